"""A call's ears with a recognizer pool: real worker processes, real pocketsphinx, real media.

Each call goes bot -> aiortc on 127.0.0.1 -> a persona speaking Piper speech over the
telephone band, as in ``test_call_session``; the recognizer workers are real processes that
the tests stop, kill or share between callers.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from tests.paths import FLOWS
from voicebot.call.session import CallHooks, CallReport, CallSession
from voicebot.eventlog import CallEvent, EventLog
from voicebot.flow.loader import load_flow
from voicebot.outcomes import Outcome
from voicebot.sim.personas.book import load_personas
from voicebot.sim.personas.callee import PersonaDirectory
from voicebot.sim.personas.model import Persona, Step
from voicebot.speech.asr.pool import RecognizerPool
from voicebot.speech.tts.piper import PiperSynthesizer
from voicebot.telephony.loopback import LoopbackTransport

pytestmark = pytest.mark.integration

Watch = Callable[[EventLog], Coroutine[Any, Any, None]]


@pytest.fixture
async def pool() -> AsyncIterator[RecognizerPool]:
    async with RecognizerPool("en-US", workers=2, hang_s=60) as started:
        yield started


async def _calls(
    pool: RecognizerPool, personas: list[Persona], watch: Watch | None = None
) -> list[CallReport]:
    """Place one call per persona at the same moment; ``watch`` sees the first call's log."""
    voice = PiperSynthesizer()
    directory = PersonaDirectory(
        {**load_personas(), **{f"p{i}": p for i, p in enumerate(personas)}}, voice
    )
    transport = LoopbackTransport(directory)
    loaded = load_flow(FLOWS / "satisfaction_survey.yaml")
    assert loaded.prompts is not None
    disclosure = loaded.prompts.render(loaded.flow.disclosure, {"company": loaded.flow.company})
    await voice.render(disclosure)
    for persona in personas:
        for step in persona.script:
            if step.say:
                await voice.render(step.say)

    async def opt_out() -> None:
        return None

    async def one(i: int, log: EventLog) -> CallReport:
        number = f"+120255501{40 + i:02d}"
        directory.assign(number, f"p{i}")
        leg = await transport.dial(number, "+12025550100", timeout=10)
        session = CallSession(
            leg,
            loaded,
            voice,
            pool,
            CallHooks(opt_out),
            variables={"name": "Alex"},
            log=log,
            amd=None,  # a caller who talks over the disclosure is no answering machine here
        )
        return await session.run()

    logs = [EventLog() for _ in personas]
    watching = asyncio.create_task(watch(logs[0])) if watch is not None else None
    try:
        return list(await asyncio.gather(*(one(i, log) for i, log in enumerate(logs))))
    finally:
        if watching is not None:
            watching.cancel()
        await transport.close()


async def _first(log: EventLog, kind: CallEvent, after: float = 0.0) -> float:
    """When ``kind`` is first logged after ``after`` (waits for it)."""
    while True:
        found = [e.t for e in log.of(kind) if e.t > after]
        if found:
            return found[0]
        await asyncio.sleep(0.01)


def _question_end(report: CallReport) -> float:
    ends = [e for e in report.log.of(CallEvent.PROMPT_END) if e.data["prompt"] == "survey_question"]
    assert ends, report.log.as_list()
    return ends[0].t


async def test_words_still_being_recognized_at_the_timeout_are_not_silence(
    pool: RecognizerPool,
) -> None:
    # The refusal ends about 4.5 s into the 6 s listen; its recognizer is stopped from the
    # first syllable until well after the timeout, as a saturated machine would delay it.
    persona = Persona(
        script=[
            Step(wait_for_bot=1),
            Step(wait=1.5),
            Step(say="No, I'm not interested, thank you."),
        ]
    )

    async def slow_recognizer(log: EventLog) -> None:
        await _first(log, CallEvent.SPEECH_START, await _first(log, CallEvent.ANSWER) + 10.0)
        for pid in pool.pids():
            os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(5.0)
        finally:
            for pid in pool.pids():
                os.kill(pid, signal.SIGCONT)

    (report,) = await _calls(pool, [persona], slow_recognizer)
    entries = report.log.as_list()
    asked = _question_end(report)
    speech_end = [e.t for e in report.log.of(CallEvent.SPEECH_END) if e.t > asked]
    words = [e for e in report.log.of(CallEvent.UTTERANCE) if e.t > asked and e.data["text"]]
    assert speech_end and words, entries
    assert speech_end[0] - asked < 6.0 < words[0].t - asked, entries  # the timeout fired between
    assert report.outcome is Outcome.REFUSED, entries
    assert not list(report.log.of(CallEvent.NO_INPUT)), entries
    prompts = [e.data["prompt"] for e in report.log.of(CallEvent.PROMPT_START)]
    assert "survey_reprompt" not in prompts


async def test_a_worker_killed_mid_utterance_is_replaced_and_the_call_ends_by_keys(
    pool: RecognizerPool,
) -> None:
    persona = Persona(
        script=[
            Step(wait=1.0),
            Step(say="Hello? Yes, I am still here."),
            Step(wait=1.5),
            Step(press="9"),
        ]
    )
    killed: list[int] = []

    async def kill_the_recognizer(log: EventLog) -> None:
        await _first(log, CallEvent.SPEECH_START)
        await asyncio.sleep(0.5)  # mid-utterance
        killed.extend(pid for pid, n in zip(pool.pids(), pool.busy(), strict=True) if n)
        assert killed
        for pid in killed:
            os.kill(pid, signal.SIGKILL)

    (report,) = await _calls(pool, [persona], kill_the_recognizer)
    entries = report.log.as_list()
    assert report.outcome is Outcome.OPTED_OUT, entries
    assert list(report.log.of(CallEvent.DNC_COMMITTED)), entries
    utterances = list(report.log.of(CallEvent.UTTERANCE))
    assert utterances, entries
    said = str(utterances[0].data.get("note", "")) + str(utterances[0].data.get("error", ""))
    assert any(f"worker {pid}" in said for pid in killed), entries  # the log says what happened
    for _ in range(600):
        if len(pool.pids()) == 2:
            break
        await asyncio.sleep(0.1)
    assert len(pool.pids()) == 2 and not set(pool.pids()) & set(killed)


async def test_two_callers_speaking_at_once_are_both_answered(pool: RecognizerPool) -> None:
    refuses = load_personas()["not_interested"]
    a, b = await _calls(pool, [refuses, refuses])
    for report in (a, b):
        assert report.outcome is Outcome.REFUSED, report.log.as_list()

    def spoken(report: CallReport) -> tuple[float, float, dict[str, object]]:
        start = next(iter(report.log.of(CallEvent.SPEECH_START))).t
        end = next(e.t for e in report.log.of(CallEvent.SPEECH_END) if e.t > start)
        words = next(e.data for e in report.log.of(CallEvent.UTTERANCE) if e.data["text"])
        return start, end, words

    (start_a, end_a, words_a), (start_b, end_b, words_b) = spoken(a), spoken(b)
    assert start_a < end_b and start_b < end_a  # they really spoke at the same moment
    # Decoded side by side, on two workers, each while its caller spoke (how fast depends on
    # the machine: `voicebot bench calls` measures that).
    assert words_a["asr_worker"] != words_b["asr_worker"]
