"""The latency figures of ``voicebot bench calls`` come from the event log: check the arithmetic."""

from __future__ import annotations

import pytest

from voicebot.call.bench import CallFigures, latencies, percentile
from voicebot.call.eventlog import CallEvent, EventLog


def test_latencies_are_read_from_the_log() -> None:
    ticks = iter([0.0, 1.0, 1.2, 3.0, 4.0, 4.5, 6.0, 6.05, 6.1])
    log = EventLog(clock=lambda: next(ticks))
    log.add(CallEvent.ANSWER)  # 1.0
    log.add(CallEvent.PROMPT_START, prompt="disclosure")  # 1.2
    log.add(CallEvent.SPEECH_START)  # 3.0
    log.add(CallEvent.SPEECH_END)  # 4.0
    log.add(CallEvent.PROMPT_START, prompt="next")  # 4.5
    log.add(CallEvent.DIGIT, digit="9", source="inband")  # 6.0
    log.add(CallEvent.DNC_COMMITTED)  # 6.05
    figures = CallFigures(1, 1)
    latencies(log, figures)
    assert figures.answer_to_disclosure == pytest.approx([200.0])
    assert figures.speech_end_to_bot_audio == pytest.approx([500.0])
    assert figures.digit_to_dnc == pytest.approx([50.0])


def test_percentiles() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5, abs=1)
    assert percentile(values, 99) == pytest.approx(99, abs=1.5)
