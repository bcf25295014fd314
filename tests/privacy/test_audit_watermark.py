"""``voicebot audit verify`` with no options finds an edited row, a deleted middle row, deleted
newest rows and an emptied table (SQLite: triggers dropped, then rows deleted).

The chain alone cannot see its own tail cut off; the sealed high-water mark (seq and hash of the
newest entry under a MAC keyed from the master key, kept in the store) can, and the store's own
counters (attempts reserved) say when the chain is shorter than they imply.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from voicebot.cli import cli
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.privacy.audit import write_audit
from voicebot.privacy.vault import MasterKey
from voicebot.purpose import Purpose
from voicebot.store import Store, open_store

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
NUMBERS = [f"+861380013{i:04d}" for i in range(3)]


@pytest.fixture
def master_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = MasterKey.generate().to_base64()
    monkeypatch.setenv("VOICEBOT_MASTER_KEY", key)
    return key


@pytest.fixture
async def filled(tmp_path: Path, master_key: str) -> AsyncIterator[Path]:
    """A store with 7 chained entries: 3 gate decisions (reservations) and 4 notes."""
    path = tmp_path / "audit.db"
    store = await open_store(str(path))
    try:
        await _fill(store)
    finally:
        await store.close()
    yield path


async def _fill(store: Store) -> None:
    gate = Gate(store, load_policy())
    for i, number in enumerate(NUMBERS):
        decision = await gate.check_and_reserve(number, "spring", Purpose.NOTIFICATION, NOW)
        assert decision.allowed, decision.reasons
        async with store.write() as conn:
            await write_audit(
                conn, at=NOW, kind="login", number_masked="", policy_version="-",
                detail={"i": i},
            )  # fmt: skip
    async with store.write() as conn:
        await write_audit(
            conn, at=NOW, kind="export", number_masked="", policy_version="-", detail={}
        )


def _verify(path: Path) -> Result:
    return CliRunner().invoke(cli, ["audit", "verify", "--db", str(path)])


def _tamper(path: Path, *statements: str) -> None:
    raw = sqlite3.connect(path)
    for sql in statements:
        raw.execute(sql)
    raw.commit()
    raw.close()


_UNGUARD = ("DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete")


def test_an_untouched_log_verifies(filled: Path) -> None:
    result = _verify(filled)
    assert result.exit_code == 0, result.output
    assert (
        "intact: 7 entries" in result.output and "high-water mark: seq 7 (reached)" in result.output
    )


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        ((*_UNGUARD, "UPDATE audit_events SET kind = 'forged' WHERE seq = 2"), "edited"),
        ((*_UNGUARD, "DELETE FROM audit_events WHERE seq = 4"), "missing"),
        ((*_UNGUARD, "DELETE FROM audit_events WHERE seq >= 6"), "seq 6..7 missing at the end"),
        ((*_UNGUARD, "DELETE FROM audit_events"), "the log is empty"),
    ],
    ids=["edited", "middle", "newest", "emptied"],
)
def test_verify_without_options_finds_the_tampering(
    filled: Path, statements: tuple[str, ...], expected: str
) -> None:
    _tamper(filled, *statements)
    result = _verify(filled)
    assert result.exit_code == 1, result.output
    assert "BROKEN" in result.output and expected in result.output


def test_removing_the_mark_too_is_found(filled: Path) -> None:
    _tamper(
        filled,
        *_UNGUARD,
        "DELETE FROM audit_events",
        "DROP TRIGGER IF EXISTS audit_watermark_no_delete",
        "DELETE FROM audit_watermark",
    )
    result = _verify(filled)
    assert result.exit_code == 1 and "high-water mark is missing" in result.output, result.output
    assert "3 attempts" in result.output  # the store's own counters disagree with the log


def test_a_forged_mark_is_found(filled: Path) -> None:
    _tamper(filled, *_UNGUARD, "DELETE FROM audit_events WHERE seq >= 6")
    _tamper(filled, "UPDATE audit_watermark SET seq = 5")
    result = _verify(filled)
    assert result.exit_code == 1 and "seal does not match" in result.output, result.output


def test_the_mark_follows_retention_and_a_reopened_store(filled: Path, tmp_path: Path) -> None:
    from voicebot.privacy.retention import RetentionPolicy

    async def purge_all() -> None:
        from voicebot.privacy.retention import purge

        store = await open_store(str(filled))
        try:
            await purge(store, None, NOW + dt.timedelta(days=500), RetentionPolicy())
        finally:
            await store.close()

    import asyncio

    asyncio.run(purge_all())
    result = _verify(filled)
    assert result.exit_code == 0, result.output
    assert "high-water mark: seq 8 (reached)" in result.output  # the checkpoint entry


async def test_a_store_from_before_gets_its_mark_and_its_notes_sealed(
    tmp_path: Path, master_key: str
) -> None:
    from sqlalchemy import insert, select

    from voicebot.privacy.audit import audit_row
    from voicebot.privacy.audit_chain import link
    from voicebot.privacy.notes import open_note
    from voicebot.store.dispositions import CALL_DISPOSITIONS
    from voicebot.store.migrate import upgrade
    from voicebot.store.models import ATTEMPTS, AUDIT_EVENTS

    path = tmp_path / "old.db"
    old = await open_store(str(path), migrate=False)
    try:
        await upgrade(old.engine, "0600_dispositions", attributes={"number_keys": old.numbers})
        async with old.engine.begin() as conn:
            head = None
            for i in range(3):  # entries written by the code of the time (no mark to raise)
                row = link(head, audit_row(at=NOW, kind="reserve", number_masked="",
                                           policy_version="-", detail={"i": i}))  # fmt: skip
                await conn.execute(insert(AUDIT_EVENTS).values(row))
                head = (row["seq"], row["hash"])
            await conn.execute(
                insert(ATTEMPTS).values(
                    id=1, purpose="notification", state="completed", reserved_at=NOW,
                    local_day=NOW.date(), policy_version="-",
                )
            )  # fmt: skip
            await conn.execute(
                insert(CALL_DISPOSITIONS).values(
                    attempt_id=1, agent="a", disposition="callback", created_at=NOW,
                    note="call me on 202-555-0133, card 4111 1111 1111 1111",
                )
            )  # fmt: skip
    finally:
        await old.close()

    result = await asyncio.to_thread(_verify, path)  # migrates: mark at the head, notes sealed
    assert result.exit_code == 0, result.output
    assert "high-water mark: seq 3 (reached)" in result.output
    assert b"202-555-0133" not in path.read_bytes() and b"4111" not in path.read_bytes()
    store = await open_store(str(path))
    try:
        async with store.engine.connect() as conn:
            sealed = (await conn.execute(select(CALL_DISPOSITIONS.c.note))).scalar_one()
        assert open_note(store.numbers, sealed) == "call me on 202***0133, card [CARD]"
    finally:
        await store.close()
    _tamper(path, *_UNGUARD, "DELETE FROM audit_events WHERE seq = 3")
    cut = await asyncio.to_thread(_verify, path)
    assert cut.exit_code == 1 and "seq 3..3 missing at the end" in cut.output, cut.output
