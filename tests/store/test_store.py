"""The store: location rules, migrations matching the models, SQLite settings, append-only audit."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, StatementError

from voicebot.store import open_store, resolve_db_url
from voicebot.store.location import ENV_VAR, default_db_path, normalize_url
from voicebot.store.migrate import alembic_config
from voicebot.store.models import AUDIT_EVENTS, FREEZES
from voicebot.store.schema import metadata

NOW = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)


def test_location_prefers_option_then_environment_then_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env.db"))
    assert resolve_db_url(str(tmp_path / "opt.db")).endswith("/opt.db")
    assert resolve_db_url(None) == f"sqlite+aiosqlite:///{tmp_path / 'env.db'}"
    monkeypatch.delenv(ENV_VAR)
    assert resolve_db_url(None) == f"sqlite+aiosqlite:///{default_db_path()}"


def test_urls_are_mapped_to_async_drivers() -> None:
    assert normalize_url("sqlite:////var/x.db") == "sqlite+aiosqlite:////var/x.db"
    assert normalize_url("postgresql://u@127.0.0.1/db") == "postgresql+asyncpg://u@127.0.0.1/db"
    with pytest.raises(ValueError, match="unsupported database"):
        normalize_url("mysql://u@127.0.0.1/db")


def _head() -> str:
    """The newest migration: a fresh store is migrated all the way."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"migrations must form one line, got heads {heads}"
    return str(heads[0])


async def test_first_use_migrates_and_schema_matches_models(tmp_path: Path) -> None:
    store = await open_store(str(tmp_path / "nested" / "v.db"))
    try:
        async with store.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata())
            )
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            synchronous = (await conn.execute(text("PRAGMA synchronous"))).scalar()
        assert version == _head()
        assert diff == []
        assert journal == "wal"
        assert synchronous == 2  # FULL: a committed opt-out survives a crash
    finally:
        await store.close()
    again = await open_store(str(tmp_path / "nested" / "v.db"))  # already migrated: no error
    await again.close()


async def test_audit_table_refuses_update_and_delete(tmp_path: Path) -> None:
    store = await open_store(str(tmp_path / "v.db"))
    try:
        async with store.write() as conn:
            await conn.execute(
                insert(AUDIT_EVENTS).values(
                    at=NOW, kind="check", number_masked="138****8000", policy_version="t",
                    reasons=["window"], detail={},
                )
            )  # fmt: skip
        for statement in (
            update(AUDIT_EVENTS).values(kind="forged"),
            delete(AUDIT_EVENTS),
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                async with store.write() as conn:
                    await conn.execute(statement)
        async with store.engine.connect() as conn:
            assert (await conn.execute(select(AUDIT_EVENTS.c.kind))).scalars().all() == ["check"]
    finally:
        await store.close()


async def test_instants_round_trip_as_aware_utc_and_naive_ones_are_refused(tmp_path: Path) -> None:
    store = await open_store(str(tmp_path / "v.db"))
    shanghai = dt.timezone(dt.timedelta(hours=8))
    try:
        async with store.write() as conn:
            await conn.execute(
                insert(FREEZES).values(
                    **store.numbers.stored("+8613800138000").columns(),
                    since=NOW.astimezone(shanghai),
                    until=NOW + dt.timedelta(days=30), reason="t", source="t",
                )
            )  # fmt: skip
        async with store.engine.connect() as conn:
            since = (await conn.execute(select(FREEZES.c.since))).scalar_one()
        assert since == NOW and since.tzinfo is dt.UTC
        with pytest.raises(StatementError, match="naive datetime"):
            async with store.write() as conn:
                await conn.execute(
                    insert(FREEZES).values(
                        **store.numbers.stored("+8613800138000").columns(),
                        since=NOW.replace(tzinfo=None), until=NOW,
                        reason="t", source="t",
                    )
                )  # fmt: skip
    finally:
        await store.close()


async def test_stores_opened_at_once_on_a_fresh_file_migrate_it_once(tmp_path: Path) -> None:
    path = str(tmp_path / "fresh.db")
    stores = await asyncio.gather(*(open_store(path) for _ in range(4)))
    try:
        async with stores[0].engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert versions == [(_head(),)]
    finally:
        for store in stores:
            await store.close()
