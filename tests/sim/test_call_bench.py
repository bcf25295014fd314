"""The latency figures of ``voicebot bench calls`` come from the event log: check the arithmetic."""

from __future__ import annotations

import pytest

from voicebot.eventlog import CallEvent, EventLog
from voicebot.sim.call_bench import CallFigures, latencies, percentile


def test_latencies_are_read_from_the_log() -> None:
    ticks = iter([0.0, 1.0, 1.2, 3.0, 4.0, 4.1, 4.5, 5.0, 5.2, 5.3, 17.3, 18.0, 18.05])
    log = EventLog(clock=lambda: next(ticks))
    log.add(CallEvent.ANSWER)  # 1.0
    log.add(CallEvent.PROMPT_START, prompt="disclosure")  # 1.2
    log.add(CallEvent.SPEECH_START)  # 3.0
    log.add(CallEvent.SPEECH_END, silence_ms=300)  # 4.0: the voice ended at 3.7
    log.add(CallEvent.UTTERANCE, text="not interested", seconds=1.0, asr_ms=100)  # 4.1
    log.add(CallEvent.PROMPT_START, prompt="next")  # 4.5
    log.add(CallEvent.SPEECH_START)  # 5.0: a key tone, or noise
    log.add(CallEvent.SPEECH_END, silence_ms=600)  # 5.2
    log.add(CallEvent.UTTERANCE, text="", seconds=0.2, asr_ms=40)  # 5.3
    log.add(CallEvent.PROMPT_START, prompt="reprompt")  # 17.3, after a listen timeout
    log.add(CallEvent.DIGIT, digit="9", source="inband")  # 18.0
    log.add(CallEvent.DNC_COMMITTED)  # 18.05
    figures = CallFigures(1, 1)
    latencies(log, figures)
    assert figures.answer_to_disclosure == pytest.approx([200.0])
    assert figures.speech_end_to_bot_audio == pytest.approx([500.0])
    assert figures.reply_in_bot_log == pytest.approx([800.0])  # the silence waited counts
    assert figures.asr_wait == pytest.approx([100.0])
    assert figures.wordless_speech_ends == pytest.approx([12100.0])  # apart, not a reply
    assert figures.digit_to_dnc == pytest.approx([50.0])


def test_the_json_shape() -> None:
    figures = CallFigures(20, 30, calls=40, completed=40)
    figures.reply_at_callee = [500.0, 600.0, 700.0]
    figures.loop_lag = [1.0, 2.0, 30.0]
    figures.outcomes = {"refused": 10, "opted_out": 20, "completed": 10}
    figures.outcomes_by_persona = {"not_interested": {"refused": 9, "no_response": 1}}
    run = figures.as_json()
    assert run["concurrency"] == 20 and run["calls_started"] == 40
    assert run["calls_completed"] == 40
    assert run["reply_latency_at_callee_ms"]["p50"] == pytest.approx(600.0)
    assert run["reply_latency_at_callee_ms"]["count"] == 3
    assert run["loop_lag_ms"]["max"] == 30.0
    assert run["digit_to_dnc_ms"] == {"p50": None, "p99": None}
    assert run["expected_outcome_share"] == pytest.approx(0.9)
    for key in (
        "bot_cpu_percent_per_call",
        "callee_cpu_percent_per_call",
        "rss_mb_per_call",
        "reply_latency_in_bot_log_ms",
        "answer_to_disclosure_ms",
        "outcomes",
    ):
        assert key in run


def test_percentiles() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5, abs=1)
    assert percentile(values, 99) == pytest.approx(99, abs=1.5)
