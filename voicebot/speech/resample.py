"""Bring any engine's audio to the engine format, and make it sound like a telephone line.

TTS engines render at 16-24 kHz, often as floats; voicebot speaks mono int16 at 8 kHz
(:mod:`voicebot.audio`). Resampling goes through FFmpeg's libswresample (PyAV, already
installed for aiortc) rather than hand-written interpolation: it low-passes before decimating,
so 22 kHz speech does not alias into the telephone band.

:func:`telephone_band` keeps 300-3400 Hz, what a PSTN line passes, with a linear-phase FIR
(Kaiser-windowed sinc). Simulated callees use it so that the recognizers are tested on the
audio a real phone call delivers.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from voicebot.audio import SAMPLE_RATE, Pcm

FloatArray = npt.NDArray[np.floating]

TELEPHONE_LOW_HZ = 300.0
TELEPHONE_HIGH_HZ = 3400.0


def to_int16(samples: npt.NDArray[np.generic]) -> Pcm:
    """Convert float samples in [-1, 1] (or int16 already) to int16, clipping overshoot.

    Raises:
        ValueError: the array is not one-dimensional or has an unsupported dtype.
    """
    array = np.asarray(samples)
    if array.ndim != 1:
        raise ValueError(f"expected mono samples (1-D array), got shape {array.shape}")
    if array.dtype == np.int16:
        return array
    if np.issubdtype(array.dtype, np.floating):
        scaled = np.clip(array.astype(np.float64) * 32767.0, -32768.0, 32767.0)
        return np.round(scaled).astype(np.int16)
    raise ValueError(f"expected int16 or float samples, got {array.dtype}")


def resample(pcm: Pcm, rate_in: int, rate_out: int = SAMPLE_RATE) -> Pcm:
    """Resample mono int16 PCM with libswresample (anti-aliased).

    Args:
        pcm: mono int16 samples at ``rate_in``.
        rate_in: the input's sample rate in Hz.
        rate_out: the wanted rate; the engine's 8 kHz by default.

    Raises:
        ValueError: a rate is not positive, or the samples are not mono int16.
    """
    if rate_in <= 0 or rate_out <= 0:
        raise ValueError(f"sample rates must be positive, got {rate_in} -> {rate_out}")
    pcm = to_int16(pcm)
    if rate_in == rate_out or len(pcm) == 0:
        return pcm.copy()
    import av  # deferred: PyAV loads FFmpeg, which `voicebot intent` never needs

    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate_out)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(pcm).reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = rate_in
    out = [*resampler.resample(frame), *resampler.resample(None)]
    if not out:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in out]).astype(np.int16)


@lru_cache(maxsize=8)
def bandpass_taps(
    rate: int, low_hz: float, high_hz: float, taps: int = 255, beta: float = 8.0
) -> FloatArray:
    """Linear-phase FIR band-pass taps (Kaiser-windowed sinc), unity gain mid-band.

    Raises:
        ValueError: the band does not fit 0 < low < high < rate/2, or ``taps`` is even.
    """
    if not 0 < low_hz < high_hz < rate / 2:
        raise ValueError(f"band {low_hz}-{high_hz} Hz does not fit a {rate} Hz sample rate")
    if taps % 2 == 0:
        raise ValueError("taps must be odd for a linear-phase band-pass")
    n = np.arange(taps) - (taps - 1) / 2
    high = 2 * high_hz / rate
    low = 2 * low_hz / rate
    h = high * np.sinc(high * n) - low * np.sinc(low * n)
    h *= np.kaiser(taps, beta)
    centre = (low_hz + high_hz) / 2
    gain = abs(np.sum(h * np.exp(-2j * np.pi * centre / rate * np.arange(taps))))
    result: FloatArray = h / gain
    return result


def telephone_band(
    pcm: Pcm,
    rate: int = SAMPLE_RATE,
    low_hz: float = TELEPHONE_LOW_HZ,
    high_hz: float = TELEPHONE_HIGH_HZ,
) -> Pcm:
    """Keep only the telephone band (300-3400 Hz by default); same length, no delay.

    Raises:
        ValueError: the band does not fit the sample rate, or the samples are not mono.
    """
    pcm = to_int16(pcm)
    if len(pcm) == 0:
        return pcm.copy()
    h = bandpass_taps(rate, float(low_hz), float(high_hz))
    delay = (len(h) - 1) // 2
    filtered = np.convolve(pcm.astype(np.float64), h, mode="full")[delay : delay + len(pcm)]
    return np.round(np.clip(filtered, -32768.0, 32767.0)).astype(np.int16)


def to_telephone(samples: npt.NDArray[np.generic], rate_in: int) -> Pcm:
    """Any engine's mono output to 8 kHz int16, band-limited as a phone line would."""
    return telephone_band(resample(to_int16(samples), rate_in, SAMPLE_RATE))
