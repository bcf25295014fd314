"""Two-track call recording (caller left, bot right) behind a small sink interface.

The recorder only aligns and mixes frames; where the bytes go is a :class:`RecordingSink`'s
business, so encryption at rest wraps a sink without the call knowing. Sensitive flow states
(card numbers) pause recording: paused time is kept as silence so the timeline stays true.
"""

from __future__ import annotations

import io
import wave
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from voicebot.audio import FRAME_SAMPLES, SAMPLE_RATE, Pcm


class Track(StrEnum):
    """Which side of the call a frame belongs to."""

    CALLER = "caller"
    BOT = "bot"


class RecordingSink(ABC):
    """Where a finished recording goes (a file, an encrypting vault, ...)."""

    @abstractmethod
    def store(self, name: str, wav: bytes) -> str:
        """Keep ``wav`` under ``name``; return a reference the call's result can hold."""


@dataclass(frozen=True)
class RecordingInfo:
    """What was recorded: where, how long, and how much was paused."""

    reference: str
    seconds: float
    paused_seconds: float


class DualTrackRecorder:
    """Collects caller and bot frames on a shared 20 ms timeline, then hands a stereo WAV over.

    Frames are placed by slot index (``slot`` = frames since the call was answered), so a side
    that is silent (no bot prompt playing) simply has no frames there.
    """

    def __init__(self) -> None:
        self._tracks: dict[Track, dict[int, Pcm]] = {Track.CALLER: {}, Track.BOT: {}}
        self._paused = False
        self._paused_slots: set[int] = set()
        self._last_slot = -1

    @property
    def paused(self) -> bool:
        """Whether frames are currently being dropped (a sensitive state)."""
        return self._paused

    def pause(self) -> None:
        """Stop keeping audio (e.g. while the caller reads a card number)."""
        self._paused = True

    def resume(self) -> None:
        """Keep audio again."""
        self._paused = False

    def add(self, track: Track, slot: int, frame: Pcm) -> None:
        """Record one 20 ms frame of ``track`` at ``slot``."""
        if len(frame) != FRAME_SAMPLES:
            raise ValueError(f"expected {FRAME_SAMPLES} samples per frame, got {len(frame)}")
        self._last_slot = max(self._last_slot, slot)
        if self._paused:
            self._paused_slots.add(slot)
            return
        self._tracks[track][slot] = frame

    def render(self) -> bytes:
        """The recording as a stereo 8 kHz 16-bit WAV (left: caller, right: bot)."""
        slots = self._last_slot + 1
        stereo = np.zeros((slots * FRAME_SAMPLES, 2), dtype=np.int16)
        for channel, track in enumerate((Track.CALLER, Track.BOT)):
            for slot, frame in self._tracks[track].items():
                stereo[slot * FRAME_SAMPLES : (slot + 1) * FRAME_SAMPLES, channel] = frame
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(stereo.tobytes())
        return buffer.getvalue()

    def finish(self, sink: RecordingSink, name: str) -> RecordingInfo:
        """Render and store the recording."""
        reference = sink.store(name, self.render())
        frame_seconds = FRAME_SAMPLES / SAMPLE_RATE
        return RecordingInfo(
            reference,
            (self._last_slot + 1) * frame_seconds,
            len(self._paused_slots) * frame_seconds,
        )


class MemorySink(RecordingSink):
    """Keeps recordings in memory: for the simulator and tests that inspect the audio."""

    def __init__(self) -> None:
        self.recordings: dict[str, bytes] = {}

    def store(self, name: str, wav: bytes) -> str:
        self.recordings[name] = wav
        return f"memory:{name}"
