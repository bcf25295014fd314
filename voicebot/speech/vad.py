"""Voice activity and end of speech, streaming, one detector per call.

The flow needs three things from the caller's audio: a fast "speech started" (barge-in: stop the
prompt within 100-200 ms), a reliable "speech ended" (the caller finished a sentence, so hand it
to the recogniser and answer), and the segments in between. Phone lines differ wildly in level
and noise, so every decision is relative to an adaptive noise floor:

* Each 20 ms frame gives its energy in the speech band (250-3500 Hz: no mains hum, no rumble)
  and the spectral flatness of it and the frame before (below 0.1 for most voiced speech, 0.4 to
  0.8 for white or pink noise).
* The noise floor is the quietest frame of the last ``floor_window_ms`` (minimum statistics):
  it follows a change of line noise within that window and needs no "noise only" training. It is
  capped at ``max_floor_dbfs`` so a caller who talks from the very first frame is still heard.
* A frame *starts* speech when it is ``start_margin_db`` above the floor, above
  ``min_speech_dbfs`` and not noise-like (flatness at most ``max_flatness``); speech starts when
  ``start_frames`` of the last ``start_window`` frames do. The start is dated to the first of them.
* Inside an utterance a frame *keeps* speech when it is ``keep_margin_db`` above the floor
  (fricatives are noise-like, so flatness is not asked); the utterance ends after
  ``end_silence_ms`` without such a frame and is dated to the end of the last one.
* That silence is part of the caller's wait, so it adapts: whoever knows what was said so far
  (the call's ears, from partial words) may shorten it for the current utterance with
  :meth:`Vad.expect_end` ("no", "not interested" are complete answers; mid-sentence pauses
  keep the long wait). Each new utterance starts with ``end_silence_ms`` again.

Cost: one 160-point real FFT and a few reductions per frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

import numpy as np

from voicebot.audio import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, Pcm

_FULL_SCALE_POWER = 32768.0**2
_WINDOW = np.hanning(FRAME_SAMPLES)
_FREQS = np.fft.rfftfreq(FRAME_SAMPLES, 1.0 / SAMPLE_RATE)
_BAND = (_FREQS >= 250.0) & (_FREQS <= 3500.0)
# Parseval for a windowed real FFT: mean square = 2 * sum |X_k|^2 / (N * sum w^2) over k > 0.
_POWER_SCALE = 2.0 / (FRAME_SAMPLES * float(np.sum(_WINDOW**2)))
_SILENT_DB = -120.0


class VadEventKind(Enum):
    """What happened."""

    START = "start"
    END = "end"


@dataclass(frozen=True)
class Segment:
    """One utterance, in ms since the detector's first sample."""

    start_ms: float
    end_ms: float

    @property
    def duration_ms(self) -> float:
        """How long the caller spoke, pauses under ``end_silence_ms`` included."""
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class VadEvent:
    """Speech started or ended.

    Attributes:
        kind: start or end.
        at_ms: when it happened in the audio (the first speech frame; the end of the last one).
        reported_ms: how far the audio had been fed when it was decided (``at_ms`` + latency).
        segment: for an end, the whole utterance.
    """

    kind: VadEventKind
    at_ms: float
    reported_ms: float
    segment: Segment | None = None


@dataclass(frozen=True)
class VadParams:
    """Thresholds; the defaults suit 8 kHz telephone speech."""

    start_margin_db: float = 10.0
    keep_margin_db: float = 6.0
    min_speech_dbfs: float = -55.0
    max_flatness: float = 0.3
    start_frames: int = 3
    start_window: int = 4
    end_silence_ms: float = 600.0
    floor_window_ms: float = 3000.0
    max_floor_dbfs: float = -35.0

    def __post_init__(self) -> None:
        if not 1 <= self.start_frames <= self.start_window:
            raise ValueError(
                f"start_frames: expected between 1 and start_window ({self.start_window}), "
                f"got {self.start_frames}"
            )
        if self.keep_margin_db > self.start_margin_db:
            raise ValueError("keep_margin_db: expected at most start_margin_db (hysteresis)")
        if self.end_silence_ms < FRAME_MS:
            raise ValueError(f"end_silence_ms: expected >= {FRAME_MS}, got {self.end_silence_ms}")
        if self.floor_window_ms < 10 * FRAME_MS:
            raise ValueError(
                f"floor_window_ms: expected >= {10 * FRAME_MS}, got {self.floor_window_ms}"
            )


class Vad:
    """Streaming voice activity detector for one audio stream.

    Feed 8 kHz int16 samples in order (any length; analysed in 20 ms frames). After each call,
    :attr:`in_speech`, :attr:`frame_active`, :attr:`frame_dbfs` and :attr:`noise_floor_dbfs`
    describe the latest frame, for callers (answering-machine detection) that need more than events.
    """

    def __init__(self, params: VadParams | None = None) -> None:
        self.params = p = params or VadParams()
        self._history: deque[float] = deque(maxlen=int(p.floor_window_ms // FRAME_MS))
        self._onsets: deque[int] = deque(maxlen=p.start_window)  # frame indexes that qualified
        self._pending = np.zeros(0, dtype=np.int16)
        self._frame = 0  # index of the next frame
        self._start_ms = 0.0
        self._last_active_end_ms = 0.0
        self.in_speech = False
        self.frame_active = False
        self.frame_dbfs = _SILENT_DB
        self.noise_floor_dbfs = _SILENT_DB
        self.frame_flatness = 1.0
        self._prev_band = np.zeros(int(np.sum(_BAND)))
        self.end_silence_ms = p.end_silence_ms
        """The silence that ends the current utterance (see :meth:`expect_end`)."""

    def expect_end(self, silence_ms: float | None) -> None:
        """Let ``silence_ms`` of silence end the current utterance (the words so far make a
        complete answer); None restores the configured ``end_silence_ms``.

        Raises:
            ValueError: ``silence_ms`` is shorter than one frame.
        """
        if silence_ms is not None and silence_ms < FRAME_MS:
            raise ValueError(f"end silence: expected >= {FRAME_MS} ms, got {silence_ms}")
        self.end_silence_ms = self.params.end_silence_ms if silence_ms is None else silence_ms

    @property
    def silence_ms(self) -> float:
        """How long the caller has been silent inside the current utterance (0 outside)."""
        return self.now_ms - self._last_active_end_ms if self.in_speech else 0.0

    @property
    def now_ms(self) -> float:
        """How much audio has been analysed, in ms."""
        return self._frame * FRAME_MS

    def feed(self, samples: Pcm) -> list[VadEvent]:
        """Analyse the next samples; return speech starts and ends decided in them."""
        if samples.ndim != 1:
            raise ValueError(f"VAD samples: expected mono (1-D), got shape {samples.shape}")
        if len(self._pending):
            samples = np.concatenate([self._pending, samples])
        events: list[VadEvent] = []
        whole = len(samples) // FRAME_SAMPLES * FRAME_SAMPLES
        for i in range(0, whole, FRAME_SAMPLES):
            self._analyse(samples[i : i + FRAME_SAMPLES], events)
        self._pending = samples[whole:].copy()
        return events

    def flush(self) -> list[VadEvent]:
        """End of the stream: close an utterance still open."""
        if not self.in_speech:
            return []
        self.in_speech = False
        segment = Segment(self._start_ms, self._last_active_end_ms)
        return [VadEvent(VadEventKind.END, segment.end_ms, self.now_ms, segment)]

    def _analyse(self, frame: Pcm, events: list[VadEvent]) -> None:
        p = self.params
        spectrum = np.fft.rfft(frame * _WINDOW)
        band = spectrum.real[_BAND] ** 2 + spectrum.imag[_BAND] ** 2
        power = float(np.sum(band)) * _POWER_SCALE
        energy = 10 * np.log10(power / _FULL_SCALE_POWER) if power > 0 else _SILENT_DB
        energy = max(float(energy), _SILENT_DB)
        # Flatness over the last two frames: one frame's periodogram of noise is too ragged.
        smooth = (band + self._prev_band) / 2 + 1e-3  # + 1e-3: digital silence is flat, not NaN
        self._prev_band = band
        flatness = float(np.exp(np.mean(np.log(smooth))) / np.mean(smooth))
        self.frame_flatness = flatness
        self._history.append(energy)
        floor = min(min(self._history), p.max_floor_dbfs)
        self.frame_dbfs, self.noise_floor_dbfs = energy, floor

        index = self._frame
        self._frame += 1
        loud = energy >= p.min_speech_dbfs
        self.frame_active = loud and energy >= floor + p.keep_margin_db
        onset = loud and energy >= floor + p.start_margin_db and flatness <= p.max_flatness
        if onset:
            self._onsets.append(index)
        end_ms = self._frame * FRAME_MS
        if self.in_speech:
            if self.frame_active:
                self._last_active_end_ms = end_ms
            elif end_ms - self._last_active_end_ms >= self.end_silence_ms:
                self.in_speech = False
                segment = Segment(self._start_ms, self._last_active_end_ms)
                events.append(VadEvent(VadEventKind.END, segment.end_ms, end_ms, segment))
            return
        recent = [i for i in self._onsets if i > index - p.start_window]
        if len(recent) >= p.start_frames:
            self.in_speech = True
            self.end_silence_ms = p.end_silence_ms
            self._start_ms = recent[0] * FRAME_MS
            self._last_active_end_ms = end_ms
            self._onsets.clear()
            events.append(VadEvent(VadEventKind.START, self._start_ms, end_ms))
