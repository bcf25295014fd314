"""Phone numbers at rest: hashed for lookups, sealed for dialling, never in the clear; key
rotation keeps every match; the migration converts plain rows (and seals the contacts' other
columns) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from voicebot.campaign.queue import load
from voicebot.compliance import dnc
from voicebot.compliance.decision import Reason
from voicebot.compliance.explain import explain
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.compliance.queries import CoreQueries, GateQueries, SqliteQueries
from voicebot.outcomes import Outcome
from voicebot.privacy.number_keys import NumberKeyMissing, NumberKeys, SealedNumberError
from voicebot.privacy.vault.keys import Keyring, MasterKey
from voicebot.purpose import Purpose
from voicebot.store import Store, open_store
from voicebot.store.migrate import upgrade
from voicebot.store.models import ATTEMPTS, NUMBER_KEYS
from voicebot.store.schema import metadata

CN = "+8613800138000"
US = "+12025550123"
MON = dt.datetime.fromisoformat("2026-11-23T10:00:00+08:00")  # a Monday, inside the window
NY_MON = dt.datetime.fromisoformat("2026-11-23T10:00:00-05:00")
M = Purpose.MARKETING
N = Purpose.NOTIFICATION


def test_a_number_is_hashed_and_sealed_and_opens_only_under_its_key() -> None:
    keys = NumberKeys(Keyring(MasterKey.generate()))
    first, second = keys.stored(CN), keys.stored(CN)
    assert first.hash == second.hash and first.sealed != second.sealed  # lookups vs. sealing
    assert CN not in repr(first) and "13800138000" not in first.sealed
    assert keys.open(first.sealed) == CN and keys.masked(second.sealed) == "+86 138****8000"
    assert keys.open(None) == "erased"
    stranger = NumberKeys(Keyring(MasterKey.generate()))
    assert stranger.hash(CN) != first.hash
    with pytest.raises(SealedNumberError, match="not in the keyring"):
        stranger.open(first.sealed)
    key_id, _, body = first.sealed.partition(".")
    with pytest.raises(SealedNumberError, match="is damaged"):
        keys.open(f"{key_id}.{body[:-4]}AAAA")


async def test_rotation_keeps_every_match_and_a_missing_key_is_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    old = Keyring(MasterKey.generate())
    store = await open_store(db, keyring=old)
    try:
        policy = load_policy()
        await dnc.add(store, policy, CN, None, "asked", MON)
        done = await Gate(store, policy).check_and_reserve(US, "spring", N, NY_MON)
        assert done.allowed and done.attempt_id is not None
        await Gate(store, policy).record_outcome(done.attempt_id, Outcome.COMPLETED, 30.0, NY_MON)
    finally:
        await store.close()

    rotated = old.with_active(MasterKey.generate())  # what `voicebot keys rotate` saves
    store = await open_store(db, keyring=rotated)
    try:
        gate = Gate(store, load_policy())
        blocked = await gate.check(CN, N, MON)
        assert Reason.DNC in blocked.reasons, "a do-not-call entry written under the old key"
        again = await gate.check_and_reserve(US, "spring", N, NY_MON + dt.timedelta(hours=1))
        assert Reason.CAP_DAY in again.reasons, "an attempt written under the old key counts"
        history = await explain(store, US)
        assert [a.outcome for a in history.attempts] == ["completed"]
        assert [e.number for e in await dnc.entries(store)] == [CN]
        async with store.engine.connect() as conn:
            used = set((await conn.execute(select(NUMBER_KEYS.c.key_id))).scalars())
        assert used == {old.active.key_id, rotated.active.key_id}
    finally:
        await store.close()

    with pytest.raises(NumberKeyMissing, match=old.active.key_id):
        await open_store(db, keyring=rotated.without({old.active.key_id}))


@pytest.mark.parametrize("queries", [SqliteQueries, CoreQueries], ids=["sqlite3", "core"])
async def test_an_engine_without_the_new_key_refuses_to_decide(
    tmp_path: Path, queries: Callable[[], GateQueries]
) -> None:
    db = str(tmp_path / "two.db")
    old = Keyring(MasterKey.generate())
    running = await open_store(db, keyring=old)  # started before the rotation
    try:
        gate = Gate(running, load_policy())
        gate._queries = queries()
        assert (await gate.check(CN, N, MON)).allowed
        rotated = old.with_active(MasterKey.generate())
        restarted = await open_store(db, keyring=rotated)  # writes under the new key from now
        try:
            await dnc.add(restarted, load_policy(), CN, None, "asked", MON)
        finally:
            await restarted.close()
        # The entry is under a key the running engine lacks: it must not let the call through.
        with pytest.raises(NumberKeyMissing, match="restart with the current key file"):
            await gate.check_and_reserve(CN, "spring", N, MON)
    finally:
        await running.close()


_PLAIN_ROWS = [
    "INSERT INTO campaigns (id, name, purpose, created_at) VALUES (1, 'old', 'marketing', {at})",
    "INSERT INTO contacts (campaign_id, number, fields, created_at)"
    """ VALUES (1, '+8613800138000', '{{"name": "Zhang Wei"}}', {at})""",
    "INSERT INTO attempts (id, number, campaign_id, purpose, state, reserved_at, local_day,"
    " finished_at, outcome, talk_seconds, policy_version) VALUES"
    " (1, '+8613800138000', 1, 'marketing', 'completed', {at}, '2026-11-23', {at},"
    " 'refused', 12.0, 'v1'),"
    " (2, 'erased', 1, 'marketing', 'completed', {at}, '2026-11-23', {at}, 'completed', 3.0,"
    " 'v1')",
    "INSERT INTO dnc_entries (number, campaign_id, source, created_at)"
    " VALUES ('+12025550123', NULL, 'import', {at})",
    "INSERT INTO freezes (number, since, until, reason, source)"
    " VALUES ('+8613800138000', {at}, {later}, 'refusal', 'review 1')",
    "INSERT INTO review_queue (number, attempt_id, status, created_at)"
    " VALUES ('+8613800138000', 1, 'pending', {at})",
    "INSERT INTO dialer_queue (campaign_id, number, line, fields, status, tries, last_reasons,"
    " updated_at) VALUES (1, '+8613800138000', 2,"
    """ '{{"name": "Zhang Wei", "amount": "88.50"}}', 'done', '{{}}', '[]', {at})""",
]


async def _old_store_with_plain_numbers(url: str, sqlite: bool) -> None:
    """A store at the revision before numbers at rest, holding plain numbers in every table."""
    store = await open_store(url, migrate=False)
    try:
        await upgrade(store.engine, "0200_dialer")
        at, later = ("'2026-11-23 02:00:00'", "'2026-12-23 02:00:00'")
        if not sqlite:
            at, later = ("'2026-11-23 02:00:00+00'", "'2026-12-23 02:00:00+00'")
        async with store.engine.begin() as conn:
            for sql in _PLAIN_ROWS:
                await conn.execute(text(sql.format(at=at, later=later)))
    finally:
        await store.close()


async def _check_converted(store: Store) -> None:
    keys = store.numbers
    async with store.engine.connect() as conn:
        for table in ("contacts", "attempts", "dnc_entries", "freezes", "review_queue"):
            columns = {c["name"] for c in await conn.run_sync(_columns, table)}
            assert "number" not in columns and {"number_hash", "number_sealed"} <= columns, table
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata())
        )
        assert diff == []
        sealed = dict((await conn.execute(select(ATTEMPTS.c.id, ATTEMPTS.c.number_sealed))).all())
    assert keys.open(sealed[1]) == CN and sealed[2] is None  # an anonymised attempt stays so
    gate = Gate(store, load_policy())
    assert Reason.DNC in (await gate.check(US, N, NY_MON)).reasons
    assert Reason.FROZEN in (await gate.check(CN, N, MON)).reasons
    [entry] = await load(store, 1)
    assert entry.number == CN and entry.fields == {"name": "Zhang Wei", "amount": "88.50"}
    history = await explain(store, CN)
    assert len(history.attempts) == 1 and len(history.freezes) == 1 and len(history.reviews) == 1
    assert history.reviews[0].number == CN


async def test_the_migration_hashes_and_seals_plain_numbers_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    await _old_store_with_plain_numbers(str(path), sqlite=True)
    assert b"+8613800138000" in b"".join(f.read_bytes() for f in tmp_path.iterdir())
    store = await open_store(str(path))
    try:
        await _check_converted(store)
    finally:
        await store.close()
    for file in tmp_path.iterdir():  # the database and its log: no digit of the old numbers left
        data = file.read_bytes()
        for form in ("8613800138000", "13800138000", "12025550123", "2025550123", "Zhang Wei"):
            assert form.encode() not in data, (file.name, form)


async def test_the_migration_hashes_and_seals_plain_numbers_on_postgres(pg_url: str) -> None:
    await _old_store_with_plain_numbers(pg_url, sqlite=False)
    store = await open_store(pg_url)
    try:
        assert not store.is_sqlite
        await _check_converted(store)
    finally:
        await store.close()


def _columns(sync: object, table: str) -> list[dict[str, object]]:
    from sqlalchemy import inspect

    return list(inspect(sync).get_columns(table))


async def test_workers_opening_a_fresh_postgres_store_at_once_register_one_key(
    pg_url: str,
) -> None:
    keyring = Keyring(MasterKey.generate())
    stores = await asyncio.gather(*(open_store(pg_url, keyring=keyring) for _ in range(4)))
    try:
        async with stores[0].engine.connect() as conn:
            used = (await conn.execute(select(NUMBER_KEYS.c.key_id))).scalars().all()
        assert used == [keyring.active.key_id]
    finally:
        for store in stores:
            await store.close()
