"""On PostgreSQL, ``TRUNCATE audit_events`` is refused, and ``voicebot audit verify`` with no
options finds an edited row, a deleted middle row, deleted newest rows and an emptied table done
by a superuser who drops the triggers first.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth). It fails, never skips, when the
server is unreachable. Each test creates and drops its own database.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from voicebot.cli import cli
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.privacy.audit import write_audit
from voicebot.privacy.vault import MasterKey
from voicebot.purpose import Purpose
from voicebot.store import Store, open_store

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
_UNGUARD = (
    "DROP TRIGGER audit_events_append_only ON audit_events",
    "DROP TRIGGER audit_events_no_truncate ON audit_events",
)


async def _filled(url: str) -> None:
    store = await open_store(url)
    try:
        gate = Gate(store, load_policy())
        for i in range(3):
            number = f"+861380013{i:04d}"
            assert (await gate.check_and_reserve(number, "s", Purpose.NOTIFICATION, NOW)).allowed
            async with store.write() as conn:
                await write_audit(
                    conn, at=NOW, kind="login", number_masked="", policy_version="-",
                    detail={"i": i},
                )  # fmt: skip
    finally:
        await store.close()


async def _verify(url: str) -> Result:
    return await asyncio.to_thread(
        CliRunner().invoke, cli, ["audit", "verify", "--db", url], catch_exceptions=False
    )


async def _run(store: Store, *statements: str) -> None:
    async with store.engine.begin() as conn:
        for sql in statements:
            await conn.execute(text(sql))


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        ((*_UNGUARD, "UPDATE audit_events SET kind = 'forged' WHERE seq = 2"), "edited"),
        ((*_UNGUARD, "DELETE FROM audit_events WHERE seq = 3"), "missing"),
        ((*_UNGUARD, "DELETE FROM audit_events WHERE seq >= 5"), "seq 5..6 missing at the end"),
        ((*_UNGUARD, "TRUNCATE audit_events"), "the log is empty"),
    ],
    ids=["edited", "middle", "newest", "truncated"],
)
async def test_verify_without_options_finds_tampering_on_postgres(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, statements: tuple[str, ...], expected: str
) -> None:
    monkeypatch.setenv("VOICEBOT_MASTER_KEY", MasterKey.generate().to_base64())
    await _filled(pg_url)
    intact = await _verify(pg_url)
    assert intact.exit_code == 0 and "mark: seq 6 (reached)" in intact.output, intact.output
    store = await open_store(pg_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"):
            await _run(store, "TRUNCATE audit_events")
        with pytest.raises(DBAPIError, match="kept"):
            await _run(store, "TRUNCATE audit_watermark")
        await _run(store, *statements)
    finally:
        await store.close()
    broken = await _verify(pg_url)
    assert broken.exit_code == 1, broken.output
    assert "BROKEN" in broken.output and expected in broken.output
