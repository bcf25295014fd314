"""The engine's one audio format, so every part can pass frames without asking.

Inside voicebot, audio is mono signed 16-bit PCM at 8 kHz (the telephone band) held in numpy
``int16`` arrays, cut into 20 ms frames of 160 samples. Transports convert at their edge
(aiortc decodes Opus at 48 kHz; TTS engines render at 16-24 kHz).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 160

Pcm = npt.NDArray[np.int16]
"""Mono int16 samples at :data:`SAMPLE_RATE`."""


def frames(pcm: Pcm, pad: bool = True) -> Iterator[Pcm]:
    """Cut PCM into 20 ms frames; the last one is zero-padded (or dropped if ``pad`` is False)."""
    full = len(pcm) // FRAME_SAMPLES
    for i in range(full):
        yield pcm[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
    rest = len(pcm) - full * FRAME_SAMPLES
    if rest and pad:
        last = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        last[:rest] = pcm[full * FRAME_SAMPLES :]
        yield last


def silence(ms: int) -> Pcm:
    """``ms`` milliseconds of digital silence."""
    return np.zeros(SAMPLE_RATE * ms // 1000, dtype=np.int16)


def rms_dbfs(pcm: Pcm) -> float:
    """Loudness in dB relative to full scale (-inf for digital silence)."""
    if len(pcm) == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
    return 20 * float(np.log10(rms / 32768.0)) if rms > 0 else float("-inf")


def duration_ms(pcm: Pcm) -> float:
    """How long the PCM plays, in milliseconds."""
    return 1000.0 * len(pcm) / SAMPLE_RATE
