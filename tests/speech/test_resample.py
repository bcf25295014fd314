"""Resampling to 8 kHz and the telephone band: measured on tones, not trusted."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot.audio import SAMPLE_RATE
from voicebot.speech.resample import (
    bandpass_taps,
    resample,
    telephone_band,
    to_int16,
    to_telephone,
)


def tone(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.round(amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def level_db(pcm: np.ndarray, reference: np.ndarray) -> float:
    # Ignore the edges, where the filter sees zeros.
    core = slice(len(pcm) // 8, -len(pcm) // 8)
    a = np.sqrt(np.mean(pcm[core].astype(np.float64) ** 2))
    b = np.sqrt(np.mean(reference[core].astype(np.float64) ** 2))
    return float(20 * np.log10(max(a, 1e-9) / b))


def test_to_int16_scales_and_clips_floats() -> None:
    out = to_int16(np.array([0.0, 0.5, -1.0, 2.0], dtype=np.float32))
    assert out.dtype == np.int16
    assert out.tolist() == [0, 16384, -32767, 32767]


def test_to_int16_rejects_stereo_and_strange_types() -> None:
    with pytest.raises(ValueError, match="mono"):
        to_int16(np.zeros((2, 10), dtype=np.int16))
    with pytest.raises(ValueError, match="int16 or float"):
        to_int16(np.zeros(10, dtype=np.int32))


def test_resample_22050_to_8000_keeps_length_and_a_1khz_tone() -> None:
    src = tone(1000, 22050)
    out = resample(src, 22050, SAMPLE_RATE)
    assert out.dtype == np.int16
    assert abs(len(out) - SAMPLE_RATE) <= 2
    window = out[:SAMPLE_RATE].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(window))
    peak_hz = np.fft.rfftfreq(len(window), 1 / SAMPLE_RATE)[np.argmax(spectrum)]
    assert peak_hz == pytest.approx(1000, abs=2)


def test_resample_does_not_alias_a_tone_above_the_new_nyquist() -> None:
    # 6 kHz at 22.05 kHz would fold to 2 kHz at 8 kHz without the anti-alias filter.
    out = resample(tone(6000, 22050), 22050, SAMPLE_RATE)
    ref = resample(tone(1000, 22050), 22050, SAMPLE_RATE)
    assert level_db(out, ref) < -40


def test_resample_rejects_bad_rates() -> None:
    with pytest.raises(ValueError, match="positive"):
        resample(tone(1000, 8000), 0)


def test_telephone_band_passes_speech_band_and_cuts_outside() -> None:
    for freq in (500, 1000, 3000):
        src = tone(freq, SAMPLE_RATE)
        assert abs(level_db(telephone_band(src), src)) < 0.5, freq
    for freq in (60, 100):
        src = tone(freq, SAMPLE_RATE)
        assert level_db(telephone_band(src), src) < -25, freq
    src = tone(3900, SAMPLE_RATE)
    assert level_db(telephone_band(src), src) < -25


def test_telephone_band_keeps_length_and_timing() -> None:
    impulse = np.zeros(1000, dtype=np.int16)
    impulse[500] = 20000
    out = telephone_band(impulse)
    assert len(out) == 1000
    assert int(np.argmax(np.abs(out))) == 500  # linear phase, delay compensated
    short = telephone_band(np.ones(10, dtype=np.int16))
    assert len(short) == 10


def test_bandpass_rejects_a_band_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        bandpass_taps(8000, 300, 4500)


def test_to_telephone_takes_piper_like_float_output() -> None:
    src = tone(1000, 22050).astype(np.float32) / 32767
    out = to_telephone(src, 22050)
    assert out.dtype == np.int16
    assert abs(len(out) - SAMPLE_RATE) <= 2
