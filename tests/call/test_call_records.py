"""The call event log and the two-track recorder."""

from __future__ import annotations

import io
import wave
from typing import Any

import numpy as np
import pytest

from voicebot.audio import FRAME_SAMPLES
from voicebot.call.recording import DualTrackRecorder, MemorySink, Track
from voicebot.eventlog import CallEvent, EventLog


def test_event_log_is_ordered_and_relative_to_its_start() -> None:
    ticks = iter([100.0, 100.5, 101.25])
    seen: list[Any] = []
    log = EventLog(clock=lambda: next(ticks))
    log.listeners.append(seen.append)
    log.add(CallEvent.ANSWER)
    log.add(CallEvent.PROMPT_START, prompt="disclosure")
    assert [e.t for e in log.entries] == [0.5, 1.25]
    assert log.first(CallEvent.PROMPT_START) is not None
    assert log.as_list()[1] == {"t": 1.25, "kind": "prompt_start", "prompt": "disclosure"}
    assert seen == log.entries


def _tone(value: int) -> np.ndarray:
    return np.full(FRAME_SAMPLES, value, dtype=np.int16)


def test_recorder_writes_caller_left_bot_right_and_honours_pause() -> None:
    recorder = DualTrackRecorder()
    recorder.add(Track.CALLER, 0, _tone(100))
    recorder.add(Track.BOT, 1, _tone(-200))
    recorder.pause()
    recorder.add(Track.CALLER, 2, _tone(999))
    recorder.resume()
    recorder.add(Track.CALLER, 3, _tone(300))
    sink = MemorySink()
    info = recorder.finish(sink, "call-1")
    assert info.reference == "memory:call-1"
    assert info.seconds == pytest.approx(0.08)
    assert info.paused_seconds == pytest.approx(0.02)
    with wave.open(io.BytesIO(sink.recordings["call-1"])) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    per_slot = samples.reshape(4, FRAME_SAMPLES, 2)[:, 0, :]
    assert per_slot.tolist() == [[100, 0], [0, -200], [0, 0], [300, 0]]


def test_recorder_rejects_wrong_frame_size() -> None:
    with pytest.raises(ValueError, match="160 samples"):
        DualTrackRecorder().add(Track.BOT, 0, np.zeros(10, dtype=np.int16))
