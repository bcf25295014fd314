"""The DTMF keypad and a tone generator, so simulated callees can press keys in-band.

Each key is one tone from the low (row) group plus one from the high (column) group (ITU-T Q.23).
The generator is what a phone does when a key is pressed; tests and the loopback callees use it to
exercise the detector with exactly the impairments ITU-T Q.24 names: short tones, off-nominal
frequencies, twist and low levels.
"""

from __future__ import annotations

import math

import numpy as np

from voicebot.audio import SAMPLE_RATE, Pcm

ROW_HZ: tuple[float, float, float, float] = (697.0, 770.0, 852.0, 941.0)
"""Low-group frequencies, one per keypad row."""
COL_HZ: tuple[float, float, float, float] = (1209.0, 1336.0, 1477.0, 1633.0)
"""High-group frequencies, one per keypad column."""
KEYPAD: tuple[str, str, str, str] = ("123A", "456B", "789C", "*0#D")
"""``KEYPAD[row][col]`` is the key sending ``ROW_HZ[row]`` + ``COL_HZ[col]``."""
DIGITS = "0123456789*#ABCD"
"""Every DTMF key; A-D exist on the signalling level though phones rarely have them."""

_FULL_SCALE = 32768.0


def key_frequencies(digit: str) -> tuple[float, float]:
    """The (low, high) frequencies of a key.

    Raises:
        ValueError: ``digit`` is not one of :data:`DIGITS`.
    """
    for row, keys in enumerate(KEYPAD):
        col = keys.find(digit.upper()) if len(digit) == 1 else -1
        if col >= 0:
            return ROW_HZ[row], COL_HZ[col]
    raise ValueError(f"DTMF digit: expected one of {DIGITS!r}, got {digit!r}")


def dtmf_tone(
    digit: str,
    ms: float,
    level_dbfs: float = -10.0,
    twist_db: float = 0.0,
    freq_offset: float = 0.0,
) -> Pcm:
    """Render one key press as 8 kHz PCM.

    Args:
        digit: the key, one of :data:`DIGITS`.
        ms: tone length in milliseconds.
        level_dbfs: level of the low-group tone (RMS relative to full scale, as
            :func:`voicebot.audio.rms_dbfs` measures a sine).
        twist_db: level of the high-group tone minus the low-group tone. Negative is "normal"
            twist (high group weaker, as line loss makes it), positive is "reverse" twist.
        freq_offset: relative frequency error applied to both tones (0.015 = +1.5 %).

    Raises:
        ValueError: unknown digit, negative length, or a level that would clip.
    """
    low, high = key_frequencies(digit)
    if not ms >= 0:
        raise ValueError(f"DTMF tone length: expected ms >= 0, got {ms}")
    amp_low = _FULL_SCALE * math.sqrt(2.0) * 10.0 ** (level_dbfs / 20.0)
    amp_high = amp_low * 10.0 ** (twist_db / 20.0)
    if amp_low + amp_high > _FULL_SCALE - 1:
        raise ValueError(
            f"DTMF tone level: {level_dbfs} dBFS with twist {twist_db} dB clips; "
            "expected peaks below full scale (about -9 dBFS per tone without twist)"
        )
    t = np.arange(round(SAMPLE_RATE * ms / 1000.0)) / SAMPLE_RATE
    scale = 1.0 + freq_offset
    wave = amp_low * np.sin(2 * np.pi * low * scale * t)
    wave += amp_high * np.sin(2 * np.pi * high * scale * t)
    pcm: Pcm = np.round(wave).astype(np.int16)
    return pcm


def dtmf_sequence(
    digits: str, tone_ms: float = 80.0, pause_ms: float = 80.0, level_dbfs: float = -10.0
) -> Pcm:
    """Render keys pressed one after another, each followed by ``pause_ms`` of silence."""
    gap = np.zeros(round(SAMPLE_RATE * pause_ms / 1000.0), dtype=np.int16)
    parts: list[Pcm] = []
    for digit in digits:
        parts += [dtmf_tone(digit, tone_ms, level_dbfs), gap]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
