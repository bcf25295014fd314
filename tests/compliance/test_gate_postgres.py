"""The gate on PostgreSQL: migrations, advisory locks under concurrency, outcome rules.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth). It fails, never skips, when the
server is unreachable. Each run creates and drops its own database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from voicebot.compliance import review
from voicebot.compliance.decision import Reason
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.outcomes import Outcome
from voicebot.purpose import Purpose
from voicebot.store import Store
from voicebot.store.models import ATTEMPTS, AUDIT_EVENTS

pytestmark = pytest.mark.integration

MON = dt.datetime.fromisoformat("2026-11-23T10:00:00+08:00")
M = Purpose.MARKETING


async def test_concurrent_tasks_on_postgres_never_exceed_the_cap(pg_store: Store) -> None:
    assert not pg_store.is_sqlite and pg_store.committer is None
    gate = Gate(pg_store, load_policy())
    numbers = [f"+86139000022{i:02d}" for i in range(10)]
    await gate.check_and_reserve(numbers[0], "offer", M, MON)  # creates the campaign row
    decisions = await asyncio.gather(
        *(gate.check_and_reserve(n, "offer", M, MON) for _ in range(12) for n in numbers)
    )
    assert sum(d.allowed for d in decisions) == len(numbers) - 1
    async with pg_store.engine.connect() as conn:
        sealed = (await conn.execute(select(ATTEMPTS.c.number_sealed))).scalars().all()
    assert Counter(pg_store.numbers.open(s) for s in sealed) == {n: 1 for n in numbers}


async def test_outcome_rules_and_append_only_audit_on_postgres(pg_store: Store) -> None:
    gate = Gate(pg_store, load_policy())
    cn = "+8613800138000"
    first = await gate.check_and_reserve(cn, "offer", M, MON)
    assert first.attempt_id is not None
    effects = await gate.record_outcome(first.attempt_id, Outcome.REFUSED, 20, MON)
    assert effects.review_id is not None
    await review.confirm(pg_store, gate.policy, effects.review_id, MON, "lin")
    assert (await gate.check(cn, M, MON + dt.timedelta(days=1))).reasons == (Reason.FROZEN,)
    other = "+8613900001111"
    second = await gate.check_and_reserve(other, "offer", M, MON)
    assert second.attempt_id is not None
    await gate.record_outcome(second.attempt_id, Outcome.OPTED_OUT, 3, MON)
    assert (await gate.check(other, M, MON + dt.timedelta(days=2))).reasons == (Reason.DNC,)
    with pytest.raises(DBAPIError, match="append-only"):
        async with pg_store.write() as conn:
            await conn.execute(update(AUDIT_EVENTS).values(kind="forged"))
