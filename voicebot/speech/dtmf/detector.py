"""In-band DTMF detection to ITU-T Q.24, streaming, one detector per call.

Why in-band: RFC 4733 events and SIP INFO do not survive every path (browsers, the loopback
simulator, gateways that transcode), tones in the audio always do.

How: every 5 ms a 32 ms Hann-windowed block is run through a Goertzel bank (:mod:`.goertzel`):
three filters per DTMF frequency (nominal and +/-1.5 %, so an off-nominal tone loses little
power), and as many at the harmonics named below. A block *shows* a key when all of these hold:

* level: both tones at least ``min_level_dbfs``;
* twist: the high tone at most ``normal_twist_db`` below and ``reverse_twist_db`` above the low one;
* relative peak: each tone ``relative_peak_db`` above the other frequencies of its group;
* total energy: the two tones carry ``min_tone_ratio`` of the block's power (speech and music
  spread theirs over many frequencies and harmonics);
* harmonics: each tone's second harmonic, and the row tone's third, ``max_harmonic_db`` below
  it (voices and instruments have harmonics, keypads do not); measured, like the tones, at the
  nominal frequency and +/-1.5 %. For keys 2, 6 and C the row tone's second harmonic lies within
  75 Hz of the column tone, whose own energy fills that bin; there the third harmonic decides;
* frequency: the phase advance of the bin between consecutive blocks gives the tone's true
  frequency; both must be within ``max_freq_dev`` of nominal (Q.24: +/-1.5 % accepted, +/-3.5 %
  rejected; the limit sits between).

Blocks showing the same key at half the press's peak amplitude or more form a press; more than
``max_dropout_ms`` (25 ms) of blocks that do not end it. A 10 ms interruption makes at most 20 ms
of such blocks (bridged: one press, as Q.24 asks), a 40 ms pause at least 45 ms (two presses).
A press is timed at half amplitude (first to last block at half the peak or more, partial blocks
at its edges included): exact to the 5 ms step for tones longer than the block, at most 25 ms
for anything shorter. Presses of at least ``min_duration_ms`` (30 ms: Q.24 accepts >= 40 ms
and rejects < 23 ms; measured: 23 ms tones give at most 25, 40 ms tones at least 35) are
reported once, when they end.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voicebot.audio import SAMPLE_RATE, Pcm
from voicebot.speech.dtmf.goertzel import FloatArray, GoertzelBank
from voicebot.speech.dtmf.tones import COL_HZ, KEYPAD, ROW_HZ

IntArray = npt.NDArray[np.intp]

BLOCK = 256
"""Samples per analysis block (32 ms)."""
STEP = 40
"""Samples between block starts (5 ms)."""
_STEP_MS = 1000.0 * STEP / SAMPLE_RATE
_PROBES = (-0.015, 0.0, 0.015)
_TONES = ROW_HZ + COL_HZ
_FULL_SCALE_POWER = 32768.0**2
_TONE_HZ = np.asarray(_TONES)
_HARMONICS = ((1, _TONES), (2, _TONES), (3, ROW_HZ))
# Sample offsets of up to 8 consecutive blocks (a 20 ms frame starts 4 of them).
_BLOCK_INDEX = np.arange(8)[:, None] * STEP + np.arange(BLOCK)[None, :]
# Whether a row's second harmonic is far enough from the column tone to be measured apart.
_ROW_HARMONIC_CLEAR = np.array([[abs(2 * r - c) >= 100.0 for c in COL_HZ] for r in ROW_HZ])


@dataclass(frozen=True)
class DigitEvent:
    """One key press heard in the audio.

    Attributes:
        digit: the key, one of ``0-9 * # A-D``.
        start_ms: when the tone started, in ms since the detector's first sample.
        duration_ms: how long it lasted (5 ms resolution).
    """

    digit: str
    start_ms: float
    duration_ms: float


@dataclass(frozen=True)
class DtmfParams:
    """Acceptance limits; the defaults implement ITU-T Q.24 for 8 kHz G.711 audio."""

    min_duration_ms: float = 30.0
    max_freq_dev: float = 0.025
    normal_twist_db: float = 8.0
    reverse_twist_db: float = 4.0
    min_level_dbfs: float = -36.0
    relative_peak_db: float = 6.0
    min_tone_ratio: float = 0.7
    max_harmonic_db: float = -10.0
    max_dropout_ms: float = 25.0

    def __post_init__(self) -> None:
        if self.min_duration_ms < 2 * _STEP_MS:
            raise ValueError(
                f"min_duration_ms: expected >= {2 * _STEP_MS}, got {self.min_duration_ms}"
            )
        if not 0 < self.max_freq_dev < 0.05:
            raise ValueError(f"max_freq_dev: expected between 0 and 0.05, got {self.max_freq_dev}")
        if self.normal_twist_db < 0 or self.reverse_twist_db < 0:
            raise ValueError("twist limits: expected normal_twist_db and reverse_twist_db >= 0")
        if not 0 < self.min_tone_ratio <= 1:
            raise ValueError(f"min_tone_ratio: expected in (0, 1], got {self.min_tone_ratio}")
        if self.max_dropout_ms < 0:
            raise ValueError(f"max_dropout_ms: expected >= 0, got {self.max_dropout_ms}")


class DtmfDetector:
    """Streaming DTMF detector for one audio stream.

    Feed 8 kHz int16 frames of any length in order; each key press is returned once, by the
    ``feed`` call during which its tone ended. Cost is one small matrix product per 5 ms.
    """

    def __init__(self, params: DtmfParams | None = None) -> None:
        self.params = p = params or DtmfParams()
        # Filters: 8 tones x 3 probes, then second harmonics (8 x 3), then row third harmonics.
        freqs = [k * f * (1 + d) for k, tones in _HARMONICS for f in tones for d in _PROBES]
        self._bank = GoertzelBank(freqs, BLOCK)
        self._min_power = _FULL_SCALE_POWER * 10 ** (p.min_level_dbfs / 10)
        self._normal_twist = 10 ** (-p.normal_twist_db / 10)
        self._reverse_twist = 10 ** (p.reverse_twist_db / 10)
        self._relative = 10 ** (p.relative_peak_db / 10)
        self._harmonic = 10 ** (p.max_harmonic_db / 10)
        self._max_gap = int(p.max_dropout_ms // _STEP_MS)
        # Advance of a bin's phase over one step for a tone exactly at the bin's frequency.
        self._step_phase = 2 * np.pi * self._bank.freqs_hz * STEP / SAMPLE_RATE
        self._buf: FloatArray = np.zeros(0)
        self._buf_start = 0  # stream index of self._buf[0]
        self._next_block = 0  # stream index where the next block starts
        self._prev_bins = np.zeros(len(freqs), dtype=np.complex128)
        self._run: _Press | None = None
        self._recent: deque[tuple[int, int, float]] = deque(maxlen=4)

    def feed(self, frame: Pcm) -> list[DigitEvent]:
        """Analyse the next samples; return the key presses that ended in them."""
        if frame.ndim != 1:
            raise ValueError(f"DTMF frame: expected mono samples (1-D), got shape {frame.shape}")
        self._buf = np.concatenate([self._buf, frame.astype(np.float64)])
        end = self._buf_start + len(self._buf)
        count = (end - self._next_block - BLOCK) // STEP + 1
        events: list[DigitEvent] = []
        if count > 0:
            offset = self._next_block - self._buf_start
            if count <= len(_BLOCK_INDEX):
                index = _BLOCK_INDEX[:count]
            else:
                index = np.arange(count)[:, None] * STEP + np.arange(BLOCK)[None, :]
            blocks = self._buf[offset + index]
            first = self._next_block // STEP
            shown, keys, levels = self._classify(blocks)
            if shown is None and self._run is None:  # the common case: nothing tone-like
                for i in range(count):
                    self._recent.append((first + i, int(keys[i]), float(levels[i])))
            else:
                for i in range(count):
                    code = -1 if shown is None else int(shown[i])
                    self._step(first + i, code, int(keys[i]), float(levels[i]), events)
            self._next_block += count * STEP
            drop = self._next_block - self._buf_start
            self._buf = self._buf[drop:]
            self._buf_start += drop
        return events

    def flush(self) -> list[DigitEvent]:
        """End of the stream: report a key press still sounding, if long enough."""
        events: list[DigitEvent] = []
        self._close(events)
        return events

    def _classify(self, blocks: FloatArray) -> tuple[IntArray | None, IntArray, FloatArray]:
        """Per block: the key it shows (-1 for none; None if no block shows one), the strongest
        row/column pair whatever the checks say, and that pair's combined power.

        Keys are codes ``row * 4 + col``. The cheap checks (level, total energy) run first, so
        speech, silence and noise cost one matrix product and a few reductions.
        """
        n = len(blocks)
        bins = self._bank.bins(blocks)
        prev = np.concatenate([self._prev_bins[None, :], bins[:-1]])
        self._prev_bins = bins[-1]
        power = self._bank.tone_power(bins)
        probes = power[:, :24].reshape(n, 8, 3)
        group = probes.max(axis=2)
        rows, cols = group[:, :4], group[:, 4:]
        r = rows.argmax(axis=1)
        c = cols.argmax(axis=1)
        idx = np.arange(n)
        p_row, p_col = rows[idx, r], cols[idx, c]
        levels: FloatArray = p_row + p_col
        keys: IntArray = r * 4 + c
        ok = (p_row >= self._min_power) & (p_col >= self._min_power)
        ok &= levels >= self.params.min_tone_ratio * self._bank.block_power(blocks)
        if not ok.any():
            return None, keys, levels
        ok &= (p_col >= p_row * self._normal_twist) & (p_col <= p_row * self._reverse_twist)
        other_row = np.sort(rows, axis=1)[:, -2]
        other_col = np.sort(cols, axis=1)[:, -2]
        ok &= (p_row >= other_row * self._relative) & (p_col >= other_col * self._relative)
        second = power[:, 24:48].reshape(n, 8, 3).max(axis=2)
        third = power[:, 48:60].reshape(n, 4, 3).max(axis=2)
        ok &= (second[idx, r] <= p_row * self._harmonic) | ~_ROW_HARMONIC_CLEAR[r, c]
        ok &= third[idx, r] <= p_row * self._harmonic
        ok &= second[idx, 4 + c] <= p_col * self._harmonic
        # True frequency from the phase advance between consecutive blocks at the chosen bin.
        best_probe = probes.argmax(axis=2)
        for tone in (r, 4 + c):
            b = tone * 3 + best_probe[idx, tone]
            turn = bins[idx, b] * np.conj(prev[idx, b])
            advance = np.arctan2(turn.imag, turn.real) - self._step_phase[b]
            advance = (advance + np.pi) % (2 * np.pi) - np.pi
            freq = self._bank.freqs_hz[b] + advance * SAMPLE_RATE / (2 * np.pi * STEP)
            ok &= np.abs(freq / _TONE_HZ[tone] - 1) <= self.params.max_freq_dev
        shown: IntArray = np.where(ok, keys, -1)
        return shown, keys, levels

    def _step(self, block: int, shown: int, key: int, level: float, out: list[DigitEvent]) -> None:
        """Advance the press state machine by one block.

        ``shown`` is the key code the block passed every check for (-1 for none); ``key`` is the
        strongest row/column pair whatever the checks said, used only to time a press's edges.
        """
        run = self._run
        if run is not None:
            if shown == run.digit and level >= run.peak / 4:
                run.add(block, level)
            elif shown >= 0 and shown != run.digit:
                self._close(out)
            else:
                run.tail.append((block, key, level))
                if len(run.tail) > self._max_gap:
                    self._close(out)
        if self._run is None and shown >= 0:
            lead: list[tuple[int, float]] = []
            for b, k, lv in reversed(self._recent):
                if k != shown or b != block - len(lead) - 1:
                    break
                lead.append((b, lv))
            self._run = _Press(shown, block, level, lead)
        self._recent.append((block, key, level))

    def _close(self, out: list[DigitEvent]) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        # Half amplitude is where a block covers half the tone's edge: time the edges there,
        # looking also at blocks just outside the press that failed a check only for being partial.
        half = run.peak / 4
        rise = [b for b, lv in run.lead + run.head if lv >= half]
        first = min(rise) if rise else run.head[-1][0] + 1
        last = run.last  # every block added was at least a quarter of the peak so far
        for b, key, lv in run.tail:
            if b != last + 1 or key != run.digit or lv < half:
                break
            last = b
        duration = (last - first + 1) * _STEP_MS
        if duration >= self.params.min_duration_ms:
            start = first * _STEP_MS + 500.0 * BLOCK / SAMPLE_RATE
            out.append(DigitEvent(KEYPAD[run.digit // 4][run.digit % 4], start, duration))


class _Press:
    """One key press while it lasts, in constant memory however long the key is held."""

    HEAD = 16
    """Blocks kept from the start of a press: its rising edge is within the first few."""

    def __init__(self, digit: int, block: int, level: float, lead: list[tuple[int, float]]) -> None:
        self.digit = digit
        self.lead = lead  # blocks just before, strongest pair the same key, checks failed
        self.head = [(block, level)]
        self.last = block
        self.peak = level
        self.tail: list[tuple[int, int, float]] = []  # blocks since the last one showing the key

    def add(self, block: int, level: float) -> None:
        if len(self.head) < self.HEAD:
            self.head.append((block, level))
        self.last = block
        self.peak = max(self.peak, level)
        self.tail = []
