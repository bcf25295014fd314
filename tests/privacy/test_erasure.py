"""Erasure: after ``erase``, no byte of the database files or the vault spells the number, in
any form, and the gate still refuses it (by its keyed hash)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from voicebot.cli import cli
from voicebot.compliance import dnc as dnc_list
from voicebot.compliance.decision import Reason
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.compliance.queries import CoreQueries, SqliteQueries
from voicebot.outcomes import Outcome
from voicebot.privacy.audit_chain import verify
from voicebot.privacy.dnc_hash import ErasureKeyMissing, reset_key_cache
from voicebot.privacy.erasure import NoErasureKey, call_prefix, erase
from voicebot.privacy.vault import MasterKey, Vault
from voicebot.purpose import Purpose
from voicebot.store import Store, open_store
from voicebot.store.models import ATTEMPTS, CONTACTS, DNC_ERASED, FREEZES, REVIEW_QUEUE

NUMBER = "+8613800138000"
OTHER = "+8613800138001"
FORMS = ("+8613800138000", "8613800138000", "13800138000", "138 0013 8000", "138-0013-8000")
NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing, a Monday


@pytest.fixture
def master_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("VOICEBOT_MASTER_KEY", MasterKey.generate().to_base64())
    reset_key_cache()
    yield None
    reset_key_cache()


@pytest.fixture
async def store(tmp_path: Path, master_key: None) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "db" / "v.db"))
    try:
        yield opened
    finally:
        await opened.close()


def _vault(tmp_path: Path) -> Vault:
    from voicebot.privacy.vault import load_keyring

    return Vault(tmp_path / "vault", load_keyring(), lambda *_: None)


async def _populate(store: Store, vault: Vault, gate: Gate) -> tuple[int, int]:
    """Everything the engine keeps about NUMBER (and OTHER, which must survive)."""
    policy = gate.policy
    ids = []
    for number in (NUMBER, OTHER):
        decision = await gate.check_and_reserve(number, "spring", Purpose.MARKETING, NOW)
        assert decision.allowed, decision
        assert decision.attempt_id is not None
        ids.append(decision.attempt_id)
        await gate.record_outcome(decision.attempt_id, Outcome.REFUSED, 12.0, NOW)
        async with store.write() as conn:
            cid = (await conn.execute(select(func.min(ATTEMPTS.c.campaign_id)))).scalar()
            await conn.execute(
                insert(CONTACTS).values(
                    campaign_id=cid, **store.numbers.stored(number).columns(), created_at=NOW,
                    fields_sealed=store.numbers.seal_fields({"name": "张三"}),
                )
            )  # fmt: skip
            await conn.execute(
                insert(FREEZES).values(
                    **store.numbers.stored(number).columns(), since=NOW,
                    until=NOW + dt.timedelta(days=30),
                    reason="short_calls", source=f"rule for {number}",
                )
            )  # fmt: skip
            await conn.execute(
                insert(REVIEW_QUEUE).values(
                    **store.numbers.stored(number).columns(), attempt_id=decision.attempt_id,
                    status="pending",
                    created_at=NOW, note=f"said 不想听, reach at 138 0013 80{number[-2:]}",
                )
            )  # fmt: skip
        await dnc_list.add(store, policy, number, None, "opt-out dtmf 9", NOW)
        prefix = call_prefix(decision.attempt_id)
        vault.write(prefix + "recording.wav", b"RIFF" + number.encode() * 10)
        vault.write(prefix + "transcript.json", json.dumps({"text": number}).encode())
    vault.write(f"exports/{NUMBER.lstrip('+')}.csv", b"number\n" + NUMBER.encode())
    return ids[0], ids[1]


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _find_number(*roots: Path) -> list[str]:
    hits = []
    for root in roots:
        for path in _files(root):
            data = path.read_bytes()
            for form in FORMS:
                for encoded in (form.encode(), form.encode("utf-16-le")):
                    if encoded in data or form in path.as_posix():
                        hits.append(f"{path.name}: {form}")
    return hits


@pytest.mark.parametrize("queries", [SqliteQueries, CoreQueries], ids=["sqlite3", "core"])
async def test_nothing_but_the_hash_refers_to_the_number(
    store: Store, tmp_path: Path, queries: Callable[[], object]
) -> None:
    vault = _vault(tmp_path)
    gate = Gate(store, load_policy())
    gate._queries = queries()  # type: ignore[assignment]
    mine, other = await _populate(store, vault, gate)
    assert _find_number(tmp_path / "db"), "the test must start with the number on disk"

    report = await erase(store, vault, NUMBER, NOW, "dpo@example.test")

    # The refusal put one review item in the queue, the test another.
    assert report.contacts == 1 and report.review_items == 2 and report.freezes == 1
    assert report.attempts_anonymised == 1 and report.dnc_entries == 1 and report.dnc_hash_added
    assert sorted(report.vault_files) == sorted(
        [f"{call_prefix(mine)}recording.wav", f"{call_prefix(mine)}transcript.json",
         "exports/+86 138****8000.csv"]
    )  # fmt: skip
    assert report.compacted
    assert "13800138000" not in json.dumps(report.as_json()) + "\n".join(report.lines())

    # Refused still, by the hash alone, on both statement paths.
    decision = await gate.check(NUMBER, Purpose.NOTIFICATION, NOW + dt.timedelta(days=9), "spring")
    assert Reason.DNC in decision.reasons
    await store.close()

    assert _find_number(tmp_path / "db", tmp_path / "vault") == []
    raw = sqlite3.connect(tmp_path / "db" / "v.db")
    try:
        assert raw.execute("SELECT count(*) FROM dnc_erased").fetchone() == (1,)
        # The other number keeps everything.
        kept = {"contacts": 1, "attempts": 1, "freezes": 1, "review_queue": 2, "dnc_entries": 1}
        for table, rows in kept.items():
            sql = f"SELECT count(*) FROM {table} WHERE number_hash = ?"
            assert raw.execute(sql, [store.numbers.hash(OTHER)]).fetchone() == (rows,), table
        anonymous = "SELECT count(*) FROM attempts WHERE number_hash IS NULL"
        assert raw.execute(anonymous).fetchone() == (1,)
        assert raw.execute(
            "SELECT count(*) FROM attempts WHERE number_sealed IS NULL"
        ).fetchone() == (1,)
        # No row can be traced back to the number under any key: no hash of it is left.
        for table in ("contacts", "attempts", "freezes", "review_queue", "dnc_entries"):
            sql = f"SELECT count(*) FROM {table} WHERE number_hash = ?"
            assert raw.execute(sql, [store.numbers.hash(NUMBER)]).fetchone() == (0,), table
    finally:
        raw.close()
    assert vault.exists(f"{call_prefix(other)}recording.wav")
    reopened = await open_store(str(tmp_path / "db" / "v.db"))
    try:
        async with reopened.engine.connect() as conn:
            chain = await conn.run_sync(verify)
        assert chain.ok, chain.problems
    finally:
        await reopened.close()


async def test_erasing_twice_keeps_one_hash_and_erasure_needs_the_key(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = _vault(tmp_path)
    await erase(store, vault, NUMBER, NOW, "dpo")
    again = await erase(store, vault, NUMBER, NOW, "dpo")
    assert not again.dnc_hash_added
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(DNC_ERASED))).scalar() == 1
    monkeypatch.delenv("VOICEBOT_MASTER_KEY")
    monkeypatch.setenv("VOICEBOT_KEY_FILE", str(tmp_path / "no.keys"))  # and no key file either
    reset_key_cache()
    with pytest.raises(NoErasureKey):
        await erase(store, None, OTHER, NOW, "dpo")
    # Without the key the gate cannot tell erased numbers apart: it refuses to decide.
    with pytest.raises(ErasureKeyMissing):
        await Gate(store, load_policy()).check(OTHER, Purpose.NOTIFICATION, NOW)


def test_cli_erase_prints_a_masked_report(
    master_key: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "db" / "v.db")

    async def setup() -> None:
        store = await open_store(db)
        try:
            await _populate(store, _vault(tmp_path), Gate(store, load_policy()))
        finally:
            await store.close()

    asyncio.run(setup())
    runner = CliRunner()
    monkeypatch.setenv("VOICEBOT_VAULT", str(tmp_path / "vault"))
    done = runner.invoke(cli, ["erase", NUMBER, "--db", db, "--actor", "dpo"])
    assert done.exit_code == 0, done.output
    assert "138****8000" in done.output and "13800138000" not in done.output
    assert "recordings/transcripts:     3 deleted" in done.output
    verified = runner.invoke(cli, ["audit", "verify", "--db", db])
    assert verified.exit_code == 0, verified.output
    listed = runner.invoke(cli, ["audit", "list", "--kind", "erasure", "--db", db])
    assert "erasure" in listed.output and "138****8000" in listed.output
    bad = runner.invoke(cli, ["erase", "13800138000", "--db", db])
    assert bad.exit_code == 2
