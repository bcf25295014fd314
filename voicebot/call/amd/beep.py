"""The voicemail beep: a sustained pure tone that says "speak now".

A message left before the beep is cut off, so the call waits for it and starts speaking after
its end. Each 20 ms frame is analysed over the last 40 ms (Hann window, 25 Hz bins, enough to
keep a voice's harmonics apart): a frame is *tonal* when one peak between ``min_hz`` and
``max_hz`` holds ``min_purity`` of the frame's power and is at least ``min_level_dbfs``. Tonal
frames at the same frequency (within ``freq_tolerance``) form a tone; a tone lasting ``min_ms``
to ``max_ms`` is a beep, reported when it ends. Its edges are timed where the tone fills half
the window, so start and end are within about 10 ms. Speech is not pure (harmonics, moving
pitch); DTMF is two tones.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from voicebot.audio import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, Pcm

_WINDOW_SAMPLES = 2 * FRAME_SAMPLES
_WINDOW = np.hanning(_WINDOW_SAMPLES)
_BIN_HZ = SAMPLE_RATE / _WINDOW_SAMPLES
_POWER_SCALE = 2.0 / (_WINDOW_SAMPLES * float(np.sum(_WINDOW**2)))
_FULL_SCALE_POWER = 32768.0**2


@dataclass(frozen=True)
class Beep:
    """A beep heard in the audio, in ms since the detector's first sample."""

    start_ms: float
    end_ms: float
    freq_hz: float

    @property
    def duration_ms(self) -> float:
        """How long the tone sounded."""
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class BeepParams:
    """What counts as a beep; the defaults cover the answering machines and voicemail systems
    in common use (400-2000 Hz, 150 ms to a few seconds)."""

    min_hz: float = 400.0
    max_hz: float = 2000.0
    min_ms: float = 150.0
    max_ms: float = 4000.0
    min_purity: float = 0.8
    min_level_dbfs: float = -45.0
    freq_tolerance: float = 0.02

    def __post_init__(self) -> None:
        if not 2 * _BIN_HZ < self.min_hz < self.max_hz < SAMPLE_RATE / 2 - 2 * _BIN_HZ:
            raise ValueError(
                f"beep band: expected {2 * _BIN_HZ} < min_hz < max_hz < "
                f"{SAMPLE_RATE / 2 - 2 * _BIN_HZ} Hz, got {self.min_hz}-{self.max_hz}"
            )
        if not FRAME_MS <= self.min_ms < self.max_ms:
            raise ValueError(
                f"beep length: expected {FRAME_MS} <= min_ms < max_ms, "
                f"got {self.min_ms}-{self.max_ms}"
            )
        if not 0 < self.min_purity <= 1:
            raise ValueError(f"min_purity: expected in (0, 1], got {self.min_purity}")


class BeepDetector:
    """Streaming beep detector for one audio stream; feed 8 kHz int16 samples in order."""

    def __init__(self, params: BeepParams | None = None) -> None:
        self.params = p = params or BeepParams()
        self._lo = int(np.ceil(p.min_hz / _BIN_HZ))
        self._hi = int(np.floor(p.max_hz / _BIN_HZ))
        self._min_power = _FULL_SCALE_POWER * 10 ** (p.min_level_dbfs / 10)
        self._window = np.zeros(_WINDOW_SAMPLES)
        self._pending = np.zeros(0, dtype=np.int16)
        self._frame = 0
        self._run: _Tone | None = None

    @property
    def in_tone(self) -> bool:
        """Whether the latest frame continues a pure tone (perhaps a beep still sounding)."""
        return self._run is not None

    def feed(self, samples: Pcm) -> list[Beep]:
        """Analyse the next samples; return beeps that ended in them."""
        if samples.ndim != 1:
            raise ValueError(f"beep samples: expected mono (1-D), got shape {samples.shape}")
        if len(self._pending):
            samples = np.concatenate([self._pending, samples])
        beeps: list[Beep] = []
        whole = len(samples) // FRAME_SAMPLES * FRAME_SAMPLES
        for i in range(0, whole, FRAME_SAMPLES):
            self._analyse(samples[i : i + FRAME_SAMPLES], beeps)
        self._pending = samples[whole:].copy()
        return beeps

    def flush(self) -> list[Beep]:
        """End of the stream: report a tone still sounding, if long enough."""
        beeps: list[Beep] = []
        self._close(beeps)
        return beeps

    def _analyse(self, frame: Pcm, beeps: list[Beep]) -> None:
        self._window[:FRAME_SAMPLES] = self._window[FRAME_SAMPLES:]
        self._window[FRAME_SAMPLES:] = frame
        index = self._frame
        self._frame += 1
        spectrum = np.fft.rfft(self._window * _WINDOW)
        power = spectrum.real**2 + spectrum.imag**2
        total = float(np.sum(power[1:]))
        k = self._lo + int(np.argmax(power[self._lo : self._hi + 1]))
        tone = float(np.sum(power[k - 2 : k + 3]))
        level = tone * _POWER_SCALE
        if total <= 0 or tone < self.params.min_purity * total or level < self._min_power:
            self._close(beeps)
            return
        # Parabolic interpolation on log power: the Hann peak's true position within a bin.
        a, b, c = np.log(power[k - 1 : k + 2] + 1e-12)
        denom = a - 2 * b + c
        offset = 0.5 * (a - c) / denom if denom < 0 else 0.0
        freq = (k + offset) * _BIN_HZ
        run = self._run
        if run is not None:
            same = abs(freq - run.freq) <= self.params.freq_tolerance * run.freq
            if not same or level < run.peak / 4:
                self._close(beeps)
        if self._run is None:
            self._run = _Tone(index, freq, level)
        else:
            self._run.add(index, freq, level)

    def _close(self, beeps: list[Beep]) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        # The level is the energy in the peak's bins: it halves where the window is half covered.
        half = run.peak / 2
        first = next((i for i, level in run.head if level >= half), run.head[-1][0] + 1)
        last = next((i for i, level in reversed(run.tail) if level >= half), run.tail[0][0] - 1)
        # Frame i's window is centred on the boundary at i * 20 ms.
        start = first * FRAME_MS - FRAME_MS / 2
        end = last * FRAME_MS + FRAME_MS / 2
        if self.params.min_ms <= end - start <= self.params.max_ms:
            beeps.append(Beep(start, end, run.freq))


class _Tone:
    """A pure tone while it sounds, in constant memory however long it lasts."""

    EDGE = 8
    """Frames kept at each end: the edges, at half the peak, are within the first and last few."""

    def __init__(self, index: int, freq: float, level: float) -> None:
        self.head = [(index, level)]
        self.tail: deque[tuple[int, float]] = deque([(index, level)], maxlen=self.EDGE)
        self.peak = level
        self.freq = freq
        self._freq_sum = freq
        self._count = 1

    def add(self, index: int, freq: float, level: float) -> None:
        if len(self.head) < self.EDGE:
            self.head.append((index, level))
        self.tail.append((index, level))
        self.peak = max(self.peak, level)
        self._freq_sum += freq
        self._count += 1
        self.freq = self._freq_sum / self._count
