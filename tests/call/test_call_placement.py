"""A compliant call end to end: gate reservation, real loopback call, durable outcome rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.paths import FLOWS
from voicebot.call.placement import CallPlan, place_call
from voicebot.compliance import dnc, review
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.eventlog import CallEvent
from voicebot.flow.loader import load_flow
from voicebot.outcomes import Outcome
from voicebot.sim.personas.book import load_personas
from voicebot.sim.personas.callee import PersonaDirectory
from voicebot.speech.asr.select import recognizer_for
from voicebot.speech.tts.piper import PiperSynthesizer
from voicebot.store import Store, open_store
from voicebot.telephony.loopback import LoopbackTransport

pytestmark = pytest.mark.integration

NOON_IN_NEW_YORK = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "calls.db"))
    yield opened
    await opened.close()


async def _place(store: Store, number: str, persona: str) -> tuple[Gate, object]:
    voice = PiperSynthesizer()
    directory = PersonaDirectory(load_personas(), voice)
    directory.assign(number, persona)
    transport = LoopbackTransport(directory)
    gate = Gate(store, load_policy())
    loaded = load_flow(FLOWS / "satisfaction_survey.yaml")
    try:
        placed = await place_call(
            CallPlan(number, loaded, "spring-survey", "+12025550100", {"name": "Alex"}),
            transport,
            voice,
            recognizer_for("en-US"),
            gate=gate,
            clock=lambda: NOON_IN_NEW_YORK,
        )
    finally:
        await transport.close()
    return gate, placed


async def test_opt_out_is_on_the_do_not_call_list_before_the_goodbye(store: Store) -> None:
    number = "+12025550161"
    gate, placed = await _place(store, number, "presses_nine")
    report = placed.report  # type: ignore[attr-defined]
    assert report.outcome is Outcome.OPTED_OUT
    assert [e.number for e in await dnc.entries(store, number)] == [number]
    committed = report.log.first(CallEvent.DNC_COMMITTED)
    goodbye = next(
        e for e in report.log.of(CallEvent.PROMPT_START) if e.data["prompt"] == "opt_out_confirm"
    )
    assert committed is not None and committed.t < goodbye.t
    again = await gate.check(
        number,
        load_flow(FLOWS / "satisfaction_survey.yaml").flow.purpose,
        NOON_IN_NEW_YORK + dt.timedelta(days=2),
    )
    assert not again.allowed and "dnc" in [r.value for r in again.reasons]


async def test_spoken_refusal_lands_in_the_review_queue(store: Store) -> None:
    number = "+12025550162"
    _, placed = await _place(store, number, "not_interested")
    assert placed.report.outcome is Outcome.REFUSED  # type: ignore[attr-defined]
    pending = await review.list_reviews(store)
    assert len(pending) == 1


async def test_a_blocked_number_is_not_dialled(store: Store) -> None:
    number = "+12025550163"
    gate = Gate(store, load_policy())
    await dnc.add(store, gate.policy, number, None, "test", NOON_IN_NEW_YORK)
    _, placed = await _place(store, number, "presses_one")
    assert placed.report is None  # type: ignore[attr-defined]
    assert placed.decision is not None and not placed.decision.allowed  # type: ignore[attr-defined]
