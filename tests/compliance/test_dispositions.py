"""Agents' dispositions feed the compliance rules: do-not-call and wrong number list the number,
not interested goes to the review queue, and each is stored and audited with its attempt."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from voicebot.compliance import review
from voicebot.compliance.decision import Reason
from voicebot.compliance.dispositions import (
    Disposition,
    UnknownAttempt,
    dispositions_of,
    record_disposition,
)
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.outcomes import Outcome
from voicebot.purpose import Purpose
from voicebot.store import Store, open_store
from voicebot.store.models import AUDIT_EVENTS

CN = "+8613800138000"
MON = dt.datetime.fromisoformat("2026-11-23T10:00:00+08:00")  # a Monday, inside the window
LATER = MON + dt.timedelta(days=2)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "dispositions.db"))
    yield opened
    await opened.close()


async def handed_off(gate: Gate) -> int:
    """An attempt that ended with the bot handing the caller to an agent."""
    decision = await gate.check_and_reserve(CN, "winter", Purpose.MARKETING, MON)
    assert decision.allowed and decision.attempt_id is not None
    await gate.record_outcome(decision.attempt_id, Outcome.HANDOFF, 95.0, MON)
    return decision.attempt_id


@pytest.mark.parametrize("disposition", [Disposition.DO_NOT_CALL, Disposition.WRONG_NUMBER])
async def test_do_not_call_and_wrong_number_list_the_number(
    store: Store, disposition: Disposition
) -> None:
    gate = Gate(store, load_policy())
    attempt = await handed_off(gate)
    effects = await record_disposition(
        store, gate.policy, attempt, disposition, "agent1", MON, note="asked us to stop"
    )
    assert effects.dnc_added
    later = await gate.check(CN, Purpose.MARKETING, LATER, "winter")
    assert not later.allowed and Reason.DNC in later.reasons
    assert await dispositions_of(store, [attempt]) == {attempt: disposition.value}
    async with store.engine.connect() as conn:
        kinds = [
            (row.kind, row.detail)
            for row in await conn.execute(select(AUDIT_EVENTS.c.kind, AUDIT_EVENTS.c.detail))
        ]
    audited = [detail for kind, detail in kinds if kind == "disposition"]
    assert audited and audited[0]["disposition"] == disposition.value
    assert audited[0]["agent"] == "agent1" and audited[0]["dnc_added"] is True


async def test_not_interested_goes_to_the_review_queue(store: Store) -> None:
    gate = Gate(store, load_policy())
    attempt = await handed_off(gate)
    effects = await record_disposition(
        store, gate.policy, attempt, Disposition.NOT_INTERESTED, "agent1", MON
    )
    assert effects.review_id is not None and not effects.dnc_added
    pending = await review.list_reviews(store)
    assert [entry.id for entry in pending] == [effects.review_id]
    assert (await gate.check(CN, Purpose.MARKETING, LATER, "winter")).allowed  # until confirmed


@pytest.mark.parametrize("disposition", [Disposition.SALE, Disposition.CALLBACK])
async def test_sale_and_callback_restrict_nothing(store: Store, disposition: Disposition) -> None:
    gate = Gate(store, load_policy())
    attempt = await handed_off(gate)
    effects = await record_disposition(store, gate.policy, attempt, disposition, "agent1", MON)
    assert not effects.dnc_added and effects.review_id is None
    assert (await gate.check(CN, Purpose.MARKETING, LATER, "winter")).allowed


async def test_an_unknown_attempt_writes_nothing(store: Store) -> None:
    with pytest.raises(UnknownAttempt):
        await record_disposition(store, load_policy(), 404, Disposition.SALE, "agent1", MON)
    assert await dispositions_of(store, [404]) == {}
