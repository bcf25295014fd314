"""Retention: old recordings go, the audit log's old prefix goes behind a checkpoint, and the chain
still verifies (and still catches tampering) afterwards."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from voicebot.cli import cli
from voicebot.privacy.audit import write_audit
from voicebot.privacy.audit_chain import CHECKPOINT_KIND, Verification, verify
from voicebot.privacy.retention import RetentionPolicy, purge, run_daily
from voicebot.privacy.vault import MasterKey, Vault
from voicebot.privacy.vault.keys import Keyring
from voicebot.store import Store, open_store
from voicebot.store.models import AUDIT_EVENTS

NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
AGES = (500, 450, 420, 10, 410)
"""Days before NOW of the test's audit entries, in write order: the fourth is young, so the
fifth (old, but written after it) is not part of the purgeable prefix."""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "r.db"))
    try:
        yield opened
    finally:
        await opened.close()


def _vault(tmp_path: Path) -> Vault:
    return Vault(tmp_path / "vault", Keyring(MasterKey.generate()), lambda *_: None)


async def _entries(store: Store) -> None:
    for i, age in enumerate(AGES):
        async with store.write() as conn:
            await write_audit(
                conn, at=NOW - dt.timedelta(days=age), kind="check", number_masked="138****8000",
                policy_version="v1", allowed=True, detail={"i": i},
            )  # fmt: skip


async def _verify(store: Store) -> Verification:
    async with store.engine.connect() as conn:
        return await conn.run_sync(verify)


async def _kinds(store: Store) -> list[str]:
    async with store.engine.connect() as conn:
        query = select(AUDIT_EVENTS.c.kind).order_by(AUDIT_EVENTS.c.seq)
        return list((await conn.execute(query)).scalars())


def _age(vault: Vault, name: str, days: int) -> None:
    when = (NOW - dt.timedelta(days=days)).timestamp()
    os.utime(vault.path_of(name), (when, when))


async def test_purge_removes_old_recordings_and_the_old_audit_prefix(
    store: Store, tmp_path: Path
) -> None:
    vault = _vault(tmp_path)
    for name, days in (("calls/1/recording.wav", 400), ("calls/2/recording.wav", 30)):
        vault.write(name, b"RIFF....")
        _age(vault, name, days)
    vault.write("calls/3/transcript.json", b"{}")  # written now: far in NOW's future
    await _entries(store)

    report = await purge(store, vault, NOW, RetentionPolicy())

    assert report.vault_files == ["calls/1/recording.wav"]
    assert vault.names() == ["calls/2/recording.wav", "calls/3/transcript.json"]
    assert report.audit_rows == 3 and report.checkpoint_seq == 6
    assert await _kinds(store) == ["check", "check", CHECKPOINT_KIND, "retention_purge"]
    chain = await _verify(store)
    assert chain.ok, chain.problems
    assert (chain.starts_at, chain.anchored_at, chain.head_seq) == (4, 3, 7)

    # Nothing new is old enough: a second purge changes nothing and appends nothing.
    again = await purge(store, vault, NOW, RetentionPolicy())
    assert (again.audit_rows, again.vault_files, again.checkpoint_seq) == (0, [], None)
    assert len(await _kinds(store)) == 4


async def test_later_purge_chains_checkpoints(store: Store, tmp_path: Path) -> None:
    await _entries(store)
    await purge(store, None, NOW, RetentionPolicy())
    later = NOW + dt.timedelta(days=800)
    report = await purge(store, None, later, RetentionPolicy())
    # Everything, the first checkpoint included, is now old; a new checkpoint heads the chain.
    assert (report.audit_rows, report.checkpoint_seq) == (3, 7)
    assert await _kinds(store) == [CHECKPOINT_KIND]
    chain = await _verify(store)
    assert chain.ok, chain.problems
    assert (chain.starts_at, chain.anchored_at) == (7, 6)


async def test_triggers_are_back_and_tampering_after_a_purge_is_found(
    store: Store, tmp_path: Path
) -> None:
    await _entries(store)
    await purge(store, None, NOW, RetentionPolicy())
    raw = sqlite3.connect(tmp_path / "r.db")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM audit_events")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE audit_events SET kind = 'x'")
        # An attacker removes more of the head and the checkpoint that would vouch for it.
        raw.execute("DROP TRIGGER audit_events_no_delete")
        raw.execute(f"DELETE FROM audit_events WHERE seq = 4 OR kind = '{CHECKPOINT_KIND}'")
        raw.commit()
    finally:
        raw.close()
    chain = await _verify(store)
    assert not chain.ok
    assert "1..4 missing" in chain.problems[0].message


async def test_purge_cannot_be_configured_below_six_months(store: Store) -> None:
    with pytest.raises(ValueError, match="at least 183"):
        RetentionPolicy(audit_days=90)
    with pytest.raises(ValueError, match="recordings_days"):
        RetentionPolicy(recordings_days=0)
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(AUDIT_EVENTS))).scalar() == 0


async def test_daily_task_purges_at_once_and_keeps_running(store: Store, tmp_path: Path) -> None:
    await _entries(store)
    task = asyncio.create_task(
        run_daily(store, None, RetentionPolicy(), clock=lambda: NOW, interval=dt.timedelta(hours=1))
    )
    try:
        for _ in range(200):
            if CHECKPOINT_KIND in await _kinds(store):
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert CHECKPOINT_KIND in await _kinds(store)


def test_cli_purge_reports_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "cli.db")

    async def setup() -> None:
        opened = await open_store(db)
        try:
            await _entries(opened)
        finally:
            await opened.close()

    asyncio.run(setup())
    monkeypatch.setenv("VOICEBOT_VAULT", str(tmp_path / "no-vault"))
    runner = CliRunner()
    done = runner.invoke(cli, ["purge", "--db", db, "--at", NOW.isoformat(), "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["audit_rows"] == 3 and report["checkpoint_seq"] == 6
    assert runner.invoke(cli, ["audit", "verify", "--db", db]).exit_code == 0
    refused = runner.invoke(cli, ["purge", "--db", db, "--audit-days", "30"])
    assert refused.exit_code == 2 and "at least 183" in refused.output
