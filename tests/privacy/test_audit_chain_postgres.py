"""The audit chain, retention and erasure on PostgreSQL: concurrent writers keep one chain (the
advisory lock), a purge lifts and restores the append-only trigger, tampering is found.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth). It fails, never skips, when the
server is unreachable. Each run creates and drops its own database.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from voicebot.compliance.decision import Reason
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.privacy.audit import write_audit
from voicebot.privacy.audit_chain import Verification, verify
from voicebot.privacy.dnc_hash import reset_key_cache
from voicebot.privacy.erasure import erase
from voicebot.privacy.retention import RetentionPolicy, purge
from voicebot.privacy.vault import MasterKey
from voicebot.purpose import Purpose
from voicebot.store import Store

pytestmark = pytest.mark.integration

MON = dt.datetime.fromisoformat("2026-11-23T10:00:00+08:00")


async def _verify(store: Store) -> Verification:
    async with store.engine.connect() as conn:
        return await conn.run_sync(verify)


async def test_chain_retention_and_erasure_on_postgres(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEBOT_MASTER_KEY", MasterKey.generate().to_base64())
    reset_key_cache()
    gate = Gate(pg_store, load_policy())
    numbers = [f"+86139000033{i:02d}" for i in range(8)]

    async def note(i: int) -> None:
        async with pg_store.write() as conn:
            await write_audit(
                conn, at=MON - dt.timedelta(days=500), kind="login", number_masked="",
                policy_version="-", detail={"i": i},
            )  # fmt: skip

    await asyncio.gather(*(note(i) for i in range(5)))
    await gate.check_and_reserve(numbers[0], "offer", Purpose.NOTIFICATION, MON)  # the campaign
    await asyncio.gather(
        *(gate.check_and_reserve(n, "offer", Purpose.NOTIFICATION, MON) for n in numbers * 3),
        *(note(i) for i in range(5, 15)),
    )
    chain = await _verify(pg_store)
    assert chain.ok, chain.problems
    assert chain.rows == 5 + 1 + 24 + 10

    purged = await purge(pg_store, None, MON, RetentionPolicy())
    assert purged.audit_rows == 5
    report = await erase(pg_store, None, numbers[0], MON, "dpo")
    assert report.attempts_anonymised == 1 and report.dnc_hash_added
    decision = await gate.check(numbers[0], Purpose.NOTIFICATION, MON + dt.timedelta(days=3))
    assert Reason.DNC in decision.reasons
    chain = await _verify(pg_store)
    assert chain.ok, chain.problems
    assert chain.anchored_at == 5

    with pytest.raises(DBAPIError, match="append-only"):
        async with pg_store.engine.begin() as conn:
            await conn.execute(text("DELETE FROM audit_events"))
    async with pg_store.engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
        await conn.execute(text("UPDATE audit_events SET kind = 'forged' WHERE seq = 12"))
    chain = await _verify(pg_store)
    assert [(p.seq, "edited" in p.message) for p in chain.problems] == [(12, True)]
    reset_key_cache()
