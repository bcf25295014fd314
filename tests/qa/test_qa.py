"""Per-call QA: checks on real call logs (loopback calls, real TTS) and a hand-built log per
failure, the disclosure's sentence timing with real speech, and storing/reporting results."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from tests.paths import FLOWS
from voicebot.call.recording import MemorySink
from voicebot.call.session import CallHooks, CallReport, CallSession
from voicebot.cli import cli
from voicebot.compliance.policy import Window
from voicebot.eventlog import CallEvent, EventLog, LogEntry
from voicebot.flow.loader import LoadedFlow, load_flow
from voicebot.qa.checks import CallWindow, Check, QaResult, Status, check_call
from voicebot.qa.store import QaAlreadyRecorded, load_qa, record_qa
from voicebot.qa.timing import (
    DisclosureTiming,
    Role,
    Sentence,
    flow_disclosure_timing,
    roles_of,
    split_sentences,
)
from voicebot.sim.personas.book import load_personas
from voicebot.sim.personas.callee import PersonaDirectory
from voicebot.sim.personas.model import Persona, Step
from voicebot.speech.tts.piper import PiperSynthesizer
from voicebot.store import open_store
from voicebot.store.models import ATTEMPTS, CAMPAIGNS
from voicebot.telephony.loopback import LoopbackTransport

NUMBER = "+12025550147"
NEW_YORK = ZoneInfo("America/New_York")
DAYTIME = dt.datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)
WINDOW = CallWindow(Window(start=dt.time(8), end=dt.time(21)), (NEW_YORK,))
TIMING = DisclosureTiming(
    (
        Sentence("Hello, this is Northwind Telecom.", 0.0, 2.5, frozenset({Role.IDENTITY})),
        Sentence("This call is recorded.", 2.5, 3.6, frozenset({Role.RECORDING})),
        Sentence("To stop, press 9 at any time.", 3.6, 6.8, frozenset({Role.OPT_OUT})),
    ),
    6.8,
)


@pytest.fixture(scope="module")
def survey() -> LoadedFlow:
    return load_flow(FLOWS / "satisfaction_survey.yaml")


def _log(*entries: tuple[float, str, dict[str, Any]], at: dt.datetime = DAYTIME) -> EventLog:
    return EventLog(
        started_at=at, entries=[LogEntry(t, CallEvent(kind), data) for t, kind, data in entries]
    )


def _good(*, end_disclosure: bool = True) -> list[tuple[float, str, dict[str, Any]]]:
    """A completed survey call: answer at 2 s, disclosure at 2.2 s, rating 4, thanks."""
    return [
        (0.0, "dial", {}),
        (2.0, "answer", {}),
        (2.1, "state", {"state": "intro"}),
        (2.2, "prompt_start", {"prompt": "disclosure"}),
        *([(9.0, "prompt_end", {"prompt": "disclosure"})] if end_disclosure else []),
        (9.1, "prompt_start", {"prompt": "survey_intro"}),
        (12.0, "prompt_end", {"prompt": "survey_intro"}),
        (12.1, "prompt_start", {"prompt": "survey_question"}),
        (15.0, "prompt_end", {"prompt": "survey_question"}),
        (16.0, "digit", {"digit": "4", "source": "rfc4733"}),
        (16.1, "prompt_start", {"prompt": "survey_thanks"}),
        (18.0, "prompt_end", {"prompt": "survey_thanks"}),
        (18.5, "hangup", {"cause": "normal"}),
        (18.6, "outcome", {"outcome": "completed"}),
    ]


def _nine_over_disclosure(at: float = 3.0) -> list[tuple[float, str, dict[str, Any]]]:
    return [
        (0.0, "dial", {}),
        (2.0, "answer", {}),
        (2.2, "prompt_start", {"prompt": "disclosure"}),
        (at, "digit", {"digit": "9", "source": "rfc4733"}),
        (at + 0.02, "prompt_interrupted", {"prompt": "disclosure", "played_ms": 800, "by": "9"}),
        (at + 0.05, "dnc_committed", {}),
        (at + 0.06, "action", {"action": "opt_out", "detail": "durable"}),
        (at + 0.1, "prompt_start", {"prompt": "opt_out_confirm"}),
        (at + 4.0, "prompt_end", {"prompt": "opt_out_confirm"}),
        (at + 4.2, "hangup", {"cause": "normal"}),
    ]


def _status(result: QaResult) -> dict[str, str]:
    return {c.name.value: c.status.value for c in result.checks}


# ---- hand-built logs: a pass, and one log per failure --------------------------------------


def test_a_clean_call_passes_every_check(survey: LoadedFlow) -> None:
    result = check_call(_log(*_good()), survey.flow, TIMING, WINDOW)
    assert result.passed, result.as_list()
    assert _status(result) == {
        "disclosure_start": "pass",
        "disclosure_heard": "pass",
        "opt_out_instructions": "pass",
        "opt_out_honoured": "n/a",
        "window": "pass",
        "recording_notice": "pass",
    }
    start = result.check(Check.DISCLOSURE_START)
    assert start.times["delay"] == pytest.approx(0.2)
    assert result.check(Check.OPT_OUT_INSTRUCTIONS).times["gap"] == pytest.approx(1.1)


def test_late_disclosure_fails_with_the_delay(survey: LoadedFlow) -> None:
    entries = _good()
    entries[3] = (3.3, "prompt_start", {"prompt": "disclosure"})
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert result.failures == ("disclosure_start",)
    check = result.check(Check.DISCLOSURE_START)
    assert check.times["delay"] == pytest.approx(1.3)
    assert "1.30 s" in check.evidence


def test_something_said_before_the_disclosure_fails(survey: LoadedFlow) -> None:
    entries = _good()
    entries.insert(3, (2.15, "prompt_start", {"prompt": "survey_intro"}))
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert "disclosure_start" in result.failures
    assert "before the disclosure" in result.check(Check.DISCLOSURE_START).evidence


def test_audio_before_the_answer_fails(survey: LoadedFlow) -> None:
    entries = _good()
    entries.insert(1, (1.0, "prompt_start", {"prompt": "disclosure"}))
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert "before the answer" in result.check(Check.DISCLOSURE_START).evidence


def test_disclosure_cut_by_speech_fails_heard_instructions_and_notice(survey: LoadedFlow) -> None:
    entries = _good(end_disclosure=False)
    entries.insert(
        4, (3.2, "prompt_interrupted", {"prompt": "disclosure", "played_ms": 1000, "by": "speech"})
    )
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert result.failures == ("disclosure_heard", "opt_out_instructions", "recording_notice")
    assert result.check(Check.RECORDING_NOTICE).times["played"] == pytest.approx(1.0)


def test_cut_after_the_instructions_still_proves_them(survey: LoadedFlow) -> None:
    entries = _good(end_disclosure=False)
    entries.insert(
        4, (9.0, "prompt_interrupted", {"prompt": "disclosure", "played_ms": 6800, "by": "speech"})
    )
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert result.failures == ("disclosure_heard",)


def test_opt_out_too_long_after_the_identity_fails(survey: LoadedFlow) -> None:
    slow = DisclosureTiming(
        (
            Sentence("This is Northwind.", 0.0, 2.0, frozenset({Role.IDENTITY})),
            Sentence(
                "This call is recorded, and a long story.", 2.0, 4.5, frozenset({Role.RECORDING})
            ),
            Sentence("Press 9 to stop.", 4.5, 6.0, frozenset({Role.OPT_OUT})),
        ),
        6.0,
    )
    result = check_call(_log(*_good()), survey.flow, slow, WINDOW)
    assert result.failures == ("opt_out_instructions",)
    assert result.check(Check.OPT_OUT_INSTRUCTIONS).times["gap"] == pytest.approx(2.5)


def test_missing_sentences_and_missing_timing_fail(survey: LoadedFlow) -> None:
    bare = DisclosureTiming(
        (Sentence("This is Northwind.", 0.0, 2.0, frozenset({Role.IDENTITY})),), 2.0
    )
    result = check_call(_log(*_good()), survey.flow, bare, WINDOW)
    assert result.failures == ("opt_out_instructions", "recording_notice")
    untimed = check_call(_log(*_good()), survey.flow, None, WINDOW)
    assert untimed.failures == ("opt_out_instructions", "recording_notice")


def test_nine_over_the_disclosure_counts_as_understood_and_is_honoured(survey: LoadedFlow) -> None:
    result = check_call(_log(*_nine_over_disclosure()), survey.flow, TIMING, WINDOW)
    assert result.passed, result.as_list()
    status = _status(result)
    assert status["disclosure_heard"] == "pass"
    assert status["opt_out_instructions"] == "pass"
    assert status["opt_out_honoured"] == "pass"
    assert status["recording_notice"] == "n/a"


def test_goodbye_before_the_do_not_call_entry_fails(survey: LoadedFlow) -> None:
    entries = _nine_over_disclosure()
    entries[5] = (8.0, "dnc_committed", {})
    entries.sort(key=lambda e: e[0])
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert result.failures == ("opt_out_honoured",)
    assert "before the do-not-call entry" in result.check(Check.OPT_OUT_HONOURED).evidence


def test_opt_out_never_committed_fails(survey: LoadedFlow) -> None:
    entries = [e for e in _nine_over_disclosure() if e[1] != "dnc_committed"]
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert result.failures == ("opt_out_honoured",)
    assert "never committed" in result.check(Check.OPT_OUT_HONOURED).evidence


def test_talking_on_after_the_opt_out_fails(survey: LoadedFlow) -> None:
    entries = _nine_over_disclosure()
    entries.insert(-1, (7.5, "prompt_start", {"prompt": "survey_question"}))
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert result.failures == ("opt_out_honoured",)
    assert (
        "'survey_question' was said after the opt-out"
        in result.check(Check.OPT_OUT_HONOURED).evidence
    )


def test_spoken_opt_out_is_checked_too(survey: LoadedFlow) -> None:
    entries = [
        *_good()[:8],
        (13.0, "utterance", {"text": "don't call me again", "seconds": 1.2}),
        (13.1, "intent", {"text": "don't call me again", "intent": "opt_out", "score": 0.9}),
        (13.2, "prompt_start", {"prompt": "goodbye"}),
        (13.3, "dnc_committed", {}),
    ]
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert "opt_out_honoured" in result.failures


def test_opt_out_through_the_flows_own_path_is_checked(survey: LoadedFlow) -> None:
    """No 9 and no intent: the transition into the opt-out state marks the request."""
    entries: list[tuple[float, str, dict[str, Any]]] = [
        *_good()[:9],
        (15.5, "transition", {"trigger": "dtmf_3", "source": "ask_rating", "dest": "opt_out"}),
        (15.6, "state", {"state": "opt_out"}),
        (15.7, "dnc_committed", {}),
        (15.71, "action", {"action": "opt_out", "detail": "durable"}),
        (15.8, "prompt_start", {"prompt": "opt_out_confirm"}),
        (19.0, "prompt_end", {"prompt": "opt_out_confirm"}),
    ]
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert result.passed, result.as_list()
    assert result.check(Check.OPT_OUT_HONOURED).times["request"] == pytest.approx(15.5)
    # Only the action was logged: the commit before it still counts as honoured.
    bare = [e for e in entries if e[1] != "transition"]
    assert check_call(_log(*bare), survey.flow, TIMING, WINDOW).passed


def test_calls_outside_the_window_fail(survey: LoadedFlow) -> None:
    late = _log(*_good(), at=dt.datetime(2026, 11, 23, 20, 59, 50, tzinfo=NEW_YORK))
    result = check_call(late, survey.flow, TIMING, WINDOW)
    assert result.failures == ("window",)
    assert "ended at 2026-11-23 21:00" in result.check(Check.WINDOW).evidence
    early = _log(*_good(), at=dt.datetime(2026, 11, 23, 7, 59, tzinfo=NEW_YORK))
    assert check_call(early, survey.flow, TIMING, WINDOW).failures == ("window",)
    unknown = CallWindow(WINDOW.window, ())
    assert check_call(_log(*_good()), survey.flow, TIMING, unknown).failures == ("window",)


def test_hangup_over_the_disclosure_is_not_a_failure(survey: LoadedFlow) -> None:
    entries: list[tuple[float, str, dict[str, Any]]] = [
        (0.0, "dial", {}),
        (2.0, "answer", {}),
        (2.2, "prompt_start", {"prompt": "disclosure"}),
        (3.0, "hangup", {"cause": "normal"}),
        (3.02, "prompt_interrupted", {"prompt": "disclosure", "played_ms": 800, "by": "Hangup()"}),
    ]
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert result.passed
    assert _status(result)["disclosure_heard"] == "n/a"


def test_unanswered_call_has_nothing_to_prove_but_the_window(survey: LoadedFlow) -> None:
    entries = [(0.0, "dial", {}), (30.0, "hangup", {"cause": "no_answer"})]
    result = check_call(_log(*entries), survey.flow, TIMING, WINDOW)
    assert result.passed
    assert _status(result)["window"] == "pass"
    assert _status(result)["disclosure_start"] == "n/a"


# ---- real synthesizer, real calls -------------------------------------------------------


def test_sentences_split_on_western_and_chinese_punctuation() -> None:
    text = "您好，这里是{company}，本次通话将被录音。如不想再接到，请按9。"
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == [
        "您好，这里是{company}，本次通话将被录音。",
        "如不想再接到，请按9。",
    ]
    english = "Hello, this is {company}. This call is recorded.  Press 9 to stop"
    assert [english[a:b] for a, b in split_sentences(english)] == [
        "Hello, this is {company}.",
        "This call is recorded.",
        "Press 9 to stop",
    ]


def test_sentence_roles_in_both_shipped_locales() -> None:
    zh = "您好，这里是{company}的智能语音助手，本次通话将被录音。"
    assert roles_of(zh, "星河宽带") == {Role.IDENTITY, Role.RECORDING}
    assert roles_of("如不想再接到我们的电话，请随时按9。", "星河宽带") == {Role.OPT_OUT}
    assert roles_of("This call is recorded.", "Northwind") == {Role.RECORDING}
    assert roles_of("Hello, this is {company}.", "Northwind") == {Role.IDENTITY}
    assert roles_of("Hi {name9}.", "Northwind") == frozenset()


@pytest.fixture
async def real_timing(survey: LoadedFlow) -> DisclosureTiming:
    return await flow_disclosure_timing(survey, PiperSynthesizer())


@pytest.mark.integration
async def test_disclosure_timing_from_real_speech(
    survey: LoadedFlow, real_timing: DisclosureTiming
) -> None:
    assert survey.prompts is not None
    full = survey.prompts.render(survey.flow.disclosure, {"company": survey.flow.company})
    pcm = await PiperSynthesizer().render(full)
    assert real_timing.total_s == pytest.approx(len(pcm) / 8000, abs=0.001)
    identity = real_timing.first(Role.IDENTITY)
    notice = real_timing.first(Role.RECORDING)
    opt_out = real_timing.first(Role.OPT_OUT)
    assert identity is not None and notice is not None and opt_out is not None
    assert "Northwind Telecom" in identity.text and "press 9" in opt_out.text
    assert 0 < identity.end_s <= notice.start_s < notice.end_s <= opt_out.start_s < opt_out.end_s
    print(f"identity ends {identity.end_s} s, opt-out starts {opt_out.start_s} s")


async def _real_call(loaded: LoadedFlow, persona: Persona | str) -> CallReport:
    voice = PiperSynthesizer()
    personas = load_personas()
    if isinstance(persona, Persona):
        personas = {**personas, "custom": persona}
        persona = "custom"
    directory = PersonaDirectory(personas, voice)
    directory.assign(NUMBER, persona)
    transport = LoopbackTransport(directory)
    assert loaded.prompts is not None
    await voice.render(
        loaded.prompts.render(loaded.flow.disclosure, {"company": loaded.flow.company})
    )
    dnc: list[str] = []

    async def opt_out() -> None:
        dnc.append(NUMBER)

    try:
        leg = await transport.dial(NUMBER, "+12025550100", timeout=10)
        session = CallSession(
            leg,
            loaded,
            voice,
            None,
            CallHooks(opt_out),
            variables={"name": "Alex"},
            recording=MemorySink(),
        )
        return await session.run()
    finally:
        await transport.close()


def _daytime(log: EventLog) -> EventLog:
    """The same log anchored at a fixed daytime instant (the window check must not depend on
    when the test runs)."""
    return dataclasses.replace(log, started_at=DAYTIME, entries=list(log.entries))


@pytest.mark.integration
async def test_real_call_with_nine_over_the_disclosure(
    survey: LoadedFlow, real_timing: DisclosureTiming
) -> None:
    report = await _real_call(survey, "presses_nine")
    result = check_call(_daytime(report.log), survey.flow, real_timing, WINDOW)
    assert result.passed, (result.as_list(), report.log.as_list())
    status = _status(result)
    assert status["opt_out_honoured"] == "pass"
    assert status["disclosure_heard"] == "pass"


@pytest.mark.integration
async def test_real_completed_call_passes(
    survey: LoadedFlow, real_timing: DisclosureTiming
) -> None:
    persona = Persona(ring_seconds=0.5, script=[Step(wait_for_bot=1), Step(press="3")])
    report = await _real_call(survey, persona)
    result = check_call(_daytime(report.log), survey.flow, real_timing, WINDOW)
    assert result.passed, (result.as_list(), report.log.as_list())
    assert _status(result)["recording_notice"] == "pass"
    assert _status(result)["opt_out_honoured"] == "n/a"
    # The same real log at night fails the window check only.
    night = dataclasses.replace(
        report.log,
        started_at=dt.datetime(2026, 11, 23, 23, 0, tzinfo=NEW_YORK),
        entries=list(report.log.entries),
    )
    assert check_call(night, survey.flow, real_timing, WINDOW).failures == ("window",)


# ---- stored per call, reported ----------------------------------------------------------


async def _two_calls(db: str, flow: LoadedFlow) -> tuple[list[int], QaResult]:
    """A campaign with two attempts: one clean call, one with a late disclosure."""
    store = await open_store(db)
    try:
        async with store.write() as conn:
            campaign = (
                await conn.execute(
                    insert(CAMPAIGNS)
                    .values(name="autumn", purpose="survey", created_at=DAYTIME)
                    .returning(CAMPAIGNS.c.id)
                )
            ).scalar_one()
            ids = []
            for number in ("+12025550147", "+12025550148"):
                row = await conn.execute(
                    insert(ATTEMPTS)
                    .values(
                        **store.numbers.stored(number).columns(),
                        campaign_id=campaign,
                        purpose="survey",
                        state="completed",
                        reserved_at=DAYTIME,
                        local_day=DAYTIME.date(),
                        policy_version="test",
                    )
                    .returning(ATTEMPTS.c.id)
                )
                ids.append(row.scalar_one())
        late = _good()
        late[3] = (3.5, "prompt_start", {"prompt": "disclosure"})
        bad = check_call(_log(*late), flow.flow, TIMING, WINDOW)
        await record_qa(store, ids[0], check_call(_log(*_good()), flow.flow, TIMING, WINDOW))
        await record_qa(store, ids[1], bad)
    finally:
        await store.close()
    return ids, bad


async def test_results_are_stored_once_per_call(tmp_path: Path, survey: LoadedFlow) -> None:
    db = str(tmp_path / "v.db")
    ids, bad = await _two_calls(db, survey)
    store = await open_store(db)
    try:
        with pytest.raises(QaAlreadyRecorded):
            await record_qa(store, ids[1], bad)
        with pytest.raises(LookupError):
            await record_qa(store, 999, bad)
        stored = await load_qa(store, campaign="autumn")
        assert [s.passed for s in stored] == [True, False]
        assert stored[1].result == bad
        assert stored[1].number_masked != "+12025550148" and "0148" in stored[1].number_masked
        assert [s.attempt_id for s in await load_qa(store, failed_only=True)] == [ids[1]]
        with pytest.raises(LookupError, match="no campaign"):
            await load_qa(store, campaign="nope")
    finally:
        await store.close()


def test_qa_report_command(tmp_path: Path, survey: LoadedFlow) -> None:
    db = str(tmp_path / "v.db")
    asyncio.run(_two_calls(db, survey))
    runner = CliRunner()
    out = runner.invoke(cli, ["qa", "report", "--campaign", "autumn", "--json", "--db", db])
    assert out.exit_code == 0, out.output
    document = json.loads(out.output)
    assert document["calls"] == 2 and document["failed_calls"] == 1
    assert document["failures_by_check"] == {"disclosure_start": 1}
    assert "+12025550148" not in out.output
    table = runner.invoke(cli, ["qa", "report", "--strict", "--db", db])
    assert table.exit_code == 1
    assert "disclosure_start" in table.output and "1 with QA failures" in table.output
    missing = runner.invoke(cli, ["qa", "report", "--campaign", "nope", "--db", db])
    assert missing.exit_code != 0 and "no campaign named 'nope'" in missing.output


def test_status_names_are_stable() -> None:
    assert [c.value for c in Check] == [
        "disclosure_start",
        "disclosure_heard",
        "opt_out_instructions",
        "opt_out_honoured",
        "window",
        "recording_notice",
    ]
    assert Status.FAIL.value == "fail"


def test_an_answering_machine_cut_is_not_a_disclosure_failure() -> None:
    ticks = iter([0.0, 1.0, 1.05, 3.0, 3.0, 3.2, 9.0, 9.5])
    log = EventLog(clock=lambda: next(ticks))
    log.add(CallEvent.ANSWER)  # 1.0
    log.add(CallEvent.PROMPT_START, prompt="disclosure")  # 1.05
    log.add(CallEvent.AMD, verdict="machine", reason="greeting longer than 1500 ms")  # 3.0
    log.add(CallEvent.PROMPT_INTERRUPTED, prompt="disclosure", by="cancelled")  # 3.0
    log.add(CallEvent.AMD, verdict="beep", end_ms=7900)  # 3.2
    log.add(CallEvent.HANGUP, cause="local")  # 9.0
    flow = load_flow(FLOWS / "satisfaction_survey.yaml").flow
    result = check_call(log, flow, None, WINDOW)
    statuses = {c.name: c.status for c in result.checks}
    assert statuses[Check.DISCLOSURE_HEARD] is Status.NOT_APPLICABLE
    assert statuses[Check.RECORDING_NOTICE] is not Status.PASS  # no timing given: not proven
