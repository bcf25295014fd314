"""The gate on a real SQLite file: caps, reservations, outcome rules, review, audit."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from voicebot.compliance import review
from voicebot.compliance.decision import Reason
from voicebot.compliance.explain import explain
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import Policy, load_policy
from voicebot.compliance.queries import CoreQueries, SqliteQueries
from voicebot.compliance.rules import AttemptStateError
from voicebot.outcomes import Outcome
from voicebot.purpose import Purpose
from voicebot.store import Store, open_store
from voicebot.store.campaigns import CampaignPurposeMismatch
from voicebot.store.models import ATTEMPTS, AUDIT_EVENTS

CN = "+8613800138000"
OTHER = "+8613900001111"
MON = dt.datetime.fromisoformat("2026-11-23T10:00:00+08:00")  # a Monday, inside the window
M = Purpose.MARKETING


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "gate.db"))
    yield opened
    await opened.close()


@pytest.fixture(params=[SqliteQueries, CoreQueries], ids=["sqlite3", "core"])
def make_gate(store: Store, request: pytest.FixtureRequest) -> Callable[[Policy], Gate]:
    """Gates over both statement implementations: they must behave the same."""

    def make(policy: Policy) -> Gate:
        made = Gate(store, policy)
        made._queries = request.param()
        return made

    return make


@pytest.fixture
def gate(make_gate: Callable[[Policy], Gate]) -> Gate:
    return make_gate(load_policy())


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


async def count(store: Store, table: object) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_day_cap_allows_one_call_per_local_day(gate: Gate) -> None:
    first = await gate.check_and_reserve(CN, "offer", M, MON)
    assert first.allowed and first.attempt_id is not None
    second = await gate.check_and_reserve(CN, "offer", M, MON + dt.timedelta(hours=2))
    assert not second.allowed
    assert second.reasons == (Reason.CAP_DAY,)
    assert second.not_before == dt.datetime.fromisoformat("2026-11-24T08:00:00+08:00")
    # The cap is per number: another number is unaffected.
    assert (await gate.check_and_reserve(OTHER, "offer", M, MON)).allowed
    # The next local day it may be called again.
    assert (await gate.check_and_reserve(CN, "offer", M, MON + days(1))).allowed


async def test_week_cap_over_seven_days_of_time_travel(gate: Gate) -> None:
    allowed_days = []
    for day in range(10):
        decision = await gate.check_and_reserve(CN, "offer", M, MON + days(day))
        if decision.allowed:
            allowed_days.append(day)
            assert decision.attempt_id is not None
            await gate.record_outcome(decision.attempt_id, Outcome.COMPLETED, 60, MON + days(day))
        elif day == 3:
            assert decision.reasons == (Reason.CAP_WEEK,)
            assert decision.not_before == dt.datetime.fromisoformat("2026-11-30T08:00:00+08:00")
    # Mon, Tue, Wed; then nothing until the first call leaves the 7-day window (next Monday).
    assert allowed_days == [0, 1, 2, 7, 8, 9]


async def test_cap_scope_all_counts_every_purpose(gate: Gate) -> None:
    assert (await gate.check_and_reserve(CN, "bills", Purpose.NOTIFICATION, MON)).allowed
    denied = await gate.check_and_reserve(CN, "offer", M, MON + dt.timedelta(hours=1))
    assert denied.reasons == (Reason.CAP_DAY,)


async def test_cap_scope_purpose_counts_only_that_purpose(
    make_gate: Callable[[Policy], Gate], tmp_path: Path
) -> None:
    user = tmp_path / "p.yaml"
    user.write_text("purposes:\n  marketing:\n    caps: {scope: purpose}\n")
    gate = make_gate(load_policy(user))
    assert (await gate.check_and_reserve(CN, "bills", Purpose.NOTIFICATION, MON)).allowed
    assert (await gate.check_and_reserve(CN, "offer", M, MON)).allowed


async def test_check_is_a_what_if_and_does_not_consume_the_cap(gate: Gate, store: Store) -> None:
    for _ in range(3):
        assert (await gate.check(CN, M, MON)).allowed
    assert await count(store, ATTEMPTS) == 0
    assert await count(store, AUDIT_EVENTS) == 3
    assert (await gate.check_and_reserve(CN, "offer", M, MON)).allowed


async def test_released_reservation_stops_counting(gate: Gate) -> None:
    first = await gate.check_and_reserve(CN, "offer", M, MON)
    assert first.attempt_id is not None
    await gate.release(first.attempt_id, MON)
    assert (await gate.check_and_reserve(CN, "offer", M, MON)).allowed
    with pytest.raises(AttemptStateError, match="released"):
        await gate.record_outcome(first.attempt_id, Outcome.COMPLETED, 10, MON)
    with pytest.raises(AttemptStateError, match="no attempt"):
        await gate.release(99999, MON)


async def test_freeze_after_three_short_or_rejected_calls_in_one_local_day(
    make_gate: Callable[[Policy], Gate], tmp_path: Path
) -> None:
    user = tmp_path / "p.yaml"
    user.write_text("purposes:\n  marketing:\n    caps: {per_day: 5, per_week: 10}\n")
    gate = make_gate(load_policy(user))
    outcomes = [
        (Outcome.HUNG_UP, 4.0),
        (Outcome.NO_ANSWER, 0.0),  # nobody was disturbed: does not count
        (Outcome.COMPLETED, 40.0),  # long enough: does not count
        (Outcome.REJECTED, 0.0),
        (Outcome.HUNG_UP, 14.9),
    ]
    effects = []
    for i, (outcome, talk) in enumerate(outcomes):
        now = MON + dt.timedelta(hours=i)
        decision = await gate.check_and_reserve(CN, "offer", M, now)
        assert decision.allowed, (i, decision)
        assert decision.attempt_id is not None
        effects.append(await gate.record_outcome(decision.attempt_id, outcome, talk, now))
    assert [e.frozen_until for e in effects[:4]] == [None] * 4
    frozen_at = MON + dt.timedelta(hours=4)
    assert effects[4].frozen_until == frozen_at + days(30)
    denied = await gate.check_and_reserve(CN, "offer", M, MON + days(2))
    assert denied.reasons == (Reason.FROZEN,)
    assert denied.not_before == dt.datetime.fromisoformat("2026-12-23T14:00:00+08:00")
    assert (await gate.check_and_reserve(CN, "offer", M, MON + days(31))).allowed


async def test_opt_out_goes_to_do_not_call_durably(gate: Gate, tmp_path: Path) -> None:
    decision = await gate.check_and_reserve(CN, "offer", M, MON)
    assert decision.attempt_id is not None
    effects = await gate.record_outcome(decision.attempt_id, Outcome.OPTED_OUT, 6.0, MON)
    assert effects.dnc_added
    # A fresh engine (as after a crash and restart) sees the entry: it was committed.
    reopened = await open_store(str(tmp_path / "gate.db"))
    try:
        later = await Gate(reopened, load_policy()).check_and_reserve(
            CN, "another", Purpose.SURVEY, MON + days(20)
        )
        assert later.reasons == (Reason.DNC,)
        assert later.not_before is None
        history = await explain(reopened, CN)
        assert [d.source for d in history.dnc] == [f"opt-out on attempt {decision.attempt_id}"]
    finally:
        await reopened.close()


async def test_opt_out_scope_campaign(make_gate: Callable[[Policy], Gate], tmp_path: Path) -> None:
    user = tmp_path / "p.yaml"
    user.write_text("do_not_call: {opt_out_scope: campaign}\n")
    gate = make_gate(load_policy(user))
    decision = await gate.check_and_reserve(CN, "offer", M, MON)
    assert decision.attempt_id is not None
    await gate.record_outcome(decision.attempt_id, Outcome.OPTED_OUT, 5, MON)
    assert (await gate.check_and_reserve(CN, "offer", M, MON + days(2))).reasons == (Reason.DNC,)
    assert (await gate.check_and_reserve(CN, "winter", M, MON + days(2))).allowed


async def test_refusal_goes_to_review_and_confirmation_freezes(gate: Gate, store: Store) -> None:
    decision = await gate.check_and_reserve(CN, "offer", M, MON)
    assert decision.attempt_id is not None
    effects = await gate.record_outcome(decision.attempt_id, Outcome.REFUSED, 25.0, MON)
    assert effects.review_id is not None and effects.frozen_until is None
    pending = await review.list_reviews(store)
    assert [(p.id, p.number, p.outcome) for p in pending] == [(effects.review_id, CN, "refused")]
    # Pending review alone does not block.
    assert (await gate.check(CN, M, MON + days(1))).allowed
    until = await review.confirm(store, gate.policy, effects.review_id, MON + days(1), "lin")
    assert until == MON + days(31)
    assert (await gate.check(CN, M, MON + days(2))).reasons == (Reason.FROZEN,)
    assert await review.list_reviews(store) == []
    with pytest.raises(review.ReviewError, match="already confirmed"):
        await review.dismiss(store, gate.policy, effects.review_id, MON, "lin")


async def test_dismissed_refusal_does_not_freeze(gate: Gate, store: Store) -> None:
    decision = await gate.check_and_reserve(CN, "offer", M, MON)
    assert decision.attempt_id is not None
    effects = await gate.record_outcome(decision.attempt_id, Outcome.REFUSED, 25.0, MON)
    assert effects.review_id is not None
    await review.dismiss(store, gate.policy, effects.review_id, MON, "lin", "said 'not now'")
    assert (await gate.check(CN, M, MON + days(1))).allowed
    [item] = await review.list_reviews(store, "dismissed")
    assert item.note == "said 'not now'"


async def test_invalid_number_is_denied_and_nothing_is_written(gate: Gate, store: Store) -> None:
    decision = await gate.check_and_reserve("+86138", "offer", M, MON)
    assert decision.reasons == (Reason.INVALID_NUMBER,)
    assert "not a valid number" in decision.detail[0]
    assert await count(store, ATTEMPTS) == 0
    assert await count(store, AUDIT_EVENTS) == 0


async def test_audit_rows_hold_masked_numbers_reasons_and_policy_version(
    gate: Gate, store: Store
) -> None:
    allowed = await gate.check_and_reserve(CN, "offer", M, MON)
    assert allowed.attempt_id is not None
    await gate.check_and_reserve(CN, "offer", M, MON)
    await gate.record_outcome(allowed.attempt_id, Outcome.COMPLETED, 30, MON)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(AUDIT_EVENTS).order_by(AUDIT_EVENTS.c.id))).all()
    assert [(r.kind, r.allowed, r.reasons) for r in rows] == [
        ("reserve", True, []),
        ("reserve", False, ["cap_day"]),
        ("outcome", None, []),
    ]
    assert {r.number_masked for r in rows} == {"+86 138****8000"}
    assert {r.policy_version for r in rows} == {gate.policy.version_tag}
    assert all("13800138000" not in str(tuple(r)) for r in rows)


async def test_a_campaign_keeps_its_purpose(gate: Gate) -> None:
    await gate.check_and_reserve(CN, "offer", M, MON)
    with pytest.raises(CampaignPurposeMismatch):
        await Gate(gate.store, gate.policy).check_and_reserve(
            OTHER, "offer", Purpose.NOTIFICATION, MON
        )


async def test_concurrent_tasks_never_exceed_the_cap(gate: Gate, store: Store) -> None:
    numbers = [f"+86139000011{i:02d}" for i in range(5)]
    decisions = await asyncio.gather(
        *(gate.check_and_reserve(n, "offer", M, MON) for n in numbers for _ in range(20))
    )
    assert sum(d.allowed for d in decisions) == len(numbers)
    async with store.engine.connect() as conn:
        sealed = (await conn.execute(select(ATTEMPTS.c.number_sealed))).scalars().all()
    assert sorted(Counter(store.numbers.open(s) for s in sealed).items()) == [
        (n, 1) for n in numbers
    ]


async def test_naive_now_is_refused(gate: Gate) -> None:
    with pytest.raises(ValueError, match="aware"):
        await gate.check_and_reserve(CN, "offer", M, MON.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("writer", "reader"), [(SqliteQueries, CoreQueries), (CoreQueries, SqliteQueries)]
)
async def test_statement_sets_read_each_others_rows(
    store: Store, writer: type, reader: type
) -> None:
    first, second = Gate(store, load_policy()), Gate(store, load_policy())
    first._queries, second._queries = writer(), reader()
    reserved = await first.check_and_reserve(CN, "offer", M, MON)
    assert reserved.attempt_id is not None
    denied = await second.check_and_reserve(CN, "offer", M, MON + dt.timedelta(minutes=1))
    assert denied.reasons == (Reason.CAP_DAY,)
    await first.record_outcome(reserved.attempt_id, Outcome.OPTED_OUT, 2, MON)
    assert (await second.check(CN, M, MON + days(1))).reasons == (Reason.DNC,)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(AUDIT_EVENTS.c.at, AUDIT_EVENTS.c.reasons))).all()
    assert [r.at for r in rows][:2] == [MON, MON + dt.timedelta(minutes=1)]
    assert [r.reasons for r in rows][:2] == [[], ["cap_day"]]
