"""The audit hash chain: intact chains verify; every edit an attacker with the file can make
(the append-only triggers dropped first) is found, with the row's id and position."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import Connection

from voicebot.cli import cli
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.privacy import audit_events
from voicebot.privacy.audit import write_audit
from voicebot.privacy.audit_chain import GENESIS, Verification, entry_hash, iter_rows, verify
from voicebot.privacy.audit_events import vault_hook
from voicebot.privacy.vault import Keyring, MasterKey, Vault
from voicebot.purpose import Purpose
from voicebot.sim.gate_bench import bench_numbers, run_processes
from voicebot.store import Store, open_store
from voicebot.store.migrate import upgrade
from voicebot.store.models import AUDIT_EVENTS

NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing, a Monday


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "audit.db"))
    try:
        yield opened
    finally:
        await opened.close()


async def _fill(store: Store) -> None:
    """Six entries: three through the gate's raw-sqlite fast path, three through write_audit."""
    gate = Gate(store, load_policy())
    for i in range(3):
        await gate.check_and_reserve(f"+86138001380{i:02d}", "c", Purpose.NOTIFICATION, NOW)
        async with store.write() as conn:
            await write_audit(
                conn, at=NOW, kind="login", number_masked="", policy_version="-",
                detail={"user": f"u{i}", "note": "登录"},
            )  # fmt: skip


async def _verify(store: Store, anchor: tuple[int, str] | None = None) -> Verification:
    async with store.engine.connect() as conn:
        return await conn.run_sync(lambda sync: verify(sync, anchor))


def _tamper(path: Path, *statements: str) -> None:
    """What someone with the database file can do: drop the triggers, then edit at will."""
    raw = sqlite3.connect(path)
    raw.execute("DROP TRIGGER audit_events_no_update")
    raw.execute("DROP TRIGGER audit_events_no_delete")
    for sql in statements:
        raw.execute(sql)
    raw.commit()
    raw.close()


async def test_intact_chain_verifies_across_both_write_paths(store: Store) -> None:
    await _fill(store)
    report = await _verify(store)
    assert report.ok, report.problems
    assert report.rows == 6 and report.head_seq == 6 and report.starts_at == 1
    async with store.engine.connect() as conn:
        first = (await conn.exec_driver_sql("SELECT prev_hash FROM audit_events WHERE seq=1")).one()
    assert first[0] == GENESIS


async def test_edited_entry_is_found(store: Store, tmp_path: Path) -> None:
    await _fill(store)
    _tamper(tmp_path / "audit.db", "UPDATE audit_events SET allowed = 1 - allowed WHERE id = 3")
    report = await _verify(store)
    assert not report.ok
    [problem] = report.problems
    assert (problem.id, problem.seq, problem.position) == (3, 3, 3)
    assert "edited" in problem.message


async def test_edited_json_detail_is_found(store: Store, tmp_path: Path) -> None:
    await _fill(store)
    detail = json.dumps({"user": "someone-else", "note": "登录"})
    _tamper(tmp_path / "audit.db", f"UPDATE audit_events SET detail = '{detail}' WHERE id = 2")
    report = await _verify(store)
    assert [(p.id, "edited" in p.message) for p in report.problems] == [(2, True)]


async def test_deleted_entry_is_found(store: Store, tmp_path: Path) -> None:
    await _fill(store)
    _tamper(tmp_path / "audit.db", "DELETE FROM audit_events WHERE id = 4")
    report = await _verify(store)
    [problem] = report.problems
    assert (problem.id, problem.position) == (5, 4)
    assert "missing" in problem.message and "seq 4..4" in problem.message


async def test_deleted_first_entries_are_found(store: Store, tmp_path: Path) -> None:
    await _fill(store)
    _tamper(tmp_path / "audit.db", "DELETE FROM audit_events WHERE id <= 2")
    report = await _verify(store)
    assert not report.ok
    assert "1..2 missing" in report.problems[0].message


async def test_reordered_entries_are_found(store: Store, tmp_path: Path) -> None:
    await _fill(store)
    # Swap rows 2 and 3 whole (chain columns included), as if they had been written the other way.
    columns = "at, kind, number_masked, campaign_id, attempt_id, allowed, reasons, detail, " \
        "policy_version, seq, prev_hash, hash"  # fmt: skip
    _tamper(
        tmp_path / "audit.db",
        "DROP INDEX ix_audit_events_seq",
        f"CREATE TEMP TABLE two AS SELECT id, {columns} FROM audit_events WHERE id IN (2, 3)",
        "DELETE FROM audit_events WHERE id IN (2, 3)",
        f"INSERT INTO audit_events (id, {columns}) SELECT 5 - id, {columns} FROM two",
    )
    report = await _verify(store)
    assert not report.ok
    assert any("reordered" in p.message and p.id == 2 for p in report.problems)


async def test_reordered_content_is_found(store: Store, tmp_path: Path) -> None:
    await _fill(store)
    # Swap the seq numbers only: content moves, links no longer hold.
    _tamper(
        tmp_path / "audit.db",
        "DROP INDEX ix_audit_events_seq",
        "UPDATE audit_events SET seq = CASE id WHEN 2 THEN 3 WHEN 3 THEN 2 ELSE seq END",
    )
    report = await _verify(store)
    assert {p.id for p in report.problems} >= {2, 3}


async def test_forged_insertion_is_found(store: Store, tmp_path: Path) -> None:
    await _fill(store)
    # A forger links a new entry after seq 3 correctly, but cannot make seq 4 point to it.
    async with store.engine.connect() as conn:
        prev = (await conn.exec_driver_sql("SELECT hash FROM audit_events WHERE seq=3")).scalar()
    assert isinstance(prev, str)
    values = {
        "at": NOW, "kind": "dnc_remove", "number_masked": "138****8000", "policy_version": "-",
        "campaign_id": None, "attempt_id": None, "allowed": None, "reasons": [], "detail": {},
    }  # fmt: skip
    forged = entry_hash(4, prev, values)
    _tamper(
        tmp_path / "audit.db",
        "DROP INDEX ix_audit_events_seq",
        "INSERT INTO audit_events (id, at, kind, number_masked, policy_version, reasons, detail,"
        " seq, prev_hash, hash) VALUES (100, '2026-11-23 02:00:00.000000', 'dnc_remove',"
        f" '138****8000', '-', '[]', '{{}}', 4, '{prev}', '{forged}')",
    )
    report = await _verify(store)
    assert not report.ok
    found = {(p.id, p.message.split(" ")[0]) for p in report.problems}
    assert found == {(100, "duplicate"), (5, "reordered:"), (5, "broken")}


async def test_anchor_catches_a_rewritten_tail(store: Store, tmp_path: Path) -> None:
    await _fill(store)
    before = await _verify(store)
    assert before.head_seq is not None and before.head_hash is not None
    anchor = (before.head_seq, before.head_hash)
    assert (await _verify(store, anchor)).ok
    # Rewrite the last entry and recompute its hash: the chain alone still holds...
    async with store.engine.connect() as conn:
        row = (await conn.exec_driver_sql("SELECT prev_hash FROM audit_events WHERE seq=6")).one()

        def values(sync: Connection) -> dict[str, object]:
            return next(r for r in iter_rows(sync) if r["seq"] == 6)

        last = await conn.run_sync(values)
    last["detail"] = {"user": "nobody"}
    rehashed = entry_hash(6, row[0], last)
    _tamper(
        tmp_path / "audit.db",
        'UPDATE audit_events SET detail = \'{"user": "nobody"}\', '
        f"hash = '{rehashed}' WHERE seq = 6",
    )
    assert (await _verify(store)).ok
    # ...but not against the head recorded earlier.
    report = await _verify(store, anchor)
    assert [p.seq for p in report.problems] == [6]


@pytest.mark.integration
def test_processes_writing_at_once_keep_one_chain(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    policy = tmp_path / "policy.yaml"
    policy.write_text("purposes:\n  notification:\n    caps: {per_day: 3, per_week: 5}\n")
    result = run_processes(
        str(db), policy, processes=3, per_process=200, numbers=bench_numbers(20), concurrency=8
    )
    assert result.decisions == 600
    outcome = CliRunner().invoke(cli, ["audit", "verify", "--db", str(db), "--json"])
    assert outcome.exit_code == 0, outcome.output
    report = json.loads(outcome.output)
    assert report["ok"] and report["rows"] == 600 and report["head"]["seq"] == 600


def test_cli_verify_names_the_broken_row(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    runner = CliRunner()
    for number in ("+8613800138000", "+8613800138001", "+8613800138002"):
        done = runner.invoke(
            cli,
            [
                "compliance",
                "check",
                number,
                "--purpose",
                "notification",
                "--db",
                str(db),
                "--at",
                NOW.isoformat(),
            ],
        )
        assert done.exit_code in (0, 1), done.output
    assert runner.invoke(cli, ["audit", "verify", "--db", str(db)]).exit_code == 0
    _tamper(db, "UPDATE audit_events SET kind = 'nothing' WHERE seq = 2")
    broken = runner.invoke(cli, ["audit", "verify", "--db", str(db)])
    assert broken.exit_code == 1
    assert "seq 2" in broken.output and "id 2" in broken.output and "edited" in broken.output
    listed = runner.invoke(cli, ["audit", "list", "--db", str(db)])
    assert listed.exit_code == 0 and "138****800" in listed.output


async def test_migration_chains_rows_written_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = await open_store(str(path), migrate=False)
    try:
        await upgrade(old.engine, "0001")
        async with old.engine.begin() as conn:
            for i in range(3):
                await conn.exec_driver_sql(
                    "INSERT INTO audit_events (at, kind, number_masked, policy_version, reasons,"
                    " detail) VALUES (?, 'check', '138****8000', 'v1', '[\"dnc\"]', ?)",
                    (f"2026-11-2{i} 02:00:00.000000", json.dumps({"i": i})),
                )
    finally:
        await old.close()
    store = await open_store(str(path))
    try:
        report = await _verify(store)
        assert report.ok and report.rows == 3 and report.head_seq == 3
    finally:
        await store.close()
    _tamper(path, "UPDATE audit_events SET reasons = '[]' WHERE id = 1")
    again = await open_store(str(path))
    try:
        assert [p.id for p in (await _verify(again)).problems] == [1]
    finally:
        await again.close()


async def test_people_events_and_vault_reads_are_chained_with_masked_numbers(
    store: Store, tmp_path: Path
) -> None:
    vault = Vault(tmp_path / "vault", Keyring(MasterKey.generate()), vault_hook(store))
    vault.write("calls/7/recording.wav", b"RIFF")
    assert await vault.open_async("calls/7/recording.wav", "qa review", "alice") == b"RIFF"
    await audit_events.record(store, audit_events.REVEAL, "alice", number="+8613800138000")
    with pytest.raises(ValueError, match="actor"):
        await audit_events.record(store, audit_events.EXPORT, " ")
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(AUDIT_EVENTS).order_by(AUDIT_EVENTS.c.seq))).all()
    assert [(r.kind, r.number_masked, r.detail) for r in rows] == [
        ("vault.open", "", {"actor": "alice", "object": "calls/7/recording.wav",
                            "purpose": "qa review"}),
        ("reveal", "+86 138****8000", {"actor": "alice"}),
    ]  # fmt: skip
    assert (await _verify(store)).ok
