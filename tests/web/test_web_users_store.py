"""The console-user table: migration 0100 builds exactly the model, and the store functions keep
names unique, roles valid and sessions tied to password changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

import voicebot.store.users as users_table
from voicebot.store import open_store
from voicebot.store.migrate import alembic_config
from voicebot.store.models import Base
from voicebot.store.users import (
    Role,
    UserError,
    add_user,
    get_user,
    list_users,
    parse_roles,
    set_password_hash,
    set_roles,
)

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


async def test_migration_0100_builds_the_users_model(tmp_path: Path) -> None:
    assert users_table.WEB_USERS.name in Base.metadata.tables
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    store = await open_store(str(tmp_path / "v.db"))
    try:
        async with store.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await store.close()
    assert version == head
    assert diff == []


async def test_users_are_unique_and_changes_stick(tmp_path: Path) -> None:
    store = await open_store(str(tmp_path / "v.db"))
    try:
        async with store.write() as conn:
            ann = await add_user(
                conn, name="ann", password_hash="h1", roles=frozenset({Role.AGENT}),
                totp_secret=None, now=T0,
            )  # fmt: skip
            with pytest.raises(UserError, match="already exists"):
                await add_user(
                    conn, name="ann", password_hash="h2", roles=frozenset({Role.AGENT}),
                    totp_secret=None, now=T0,
                )  # fmt: skip
            later = T0 + dt.timedelta(hours=1)
            await set_password_hash(conn, "ann", "h3", later, rehash=True)
            assert (await get_user(conn, name="ann")).password_changed_at == T0  # type: ignore[union-attr]
            await set_password_hash(conn, "ann", "h4", later)
            await set_roles(conn, "ann", frozenset({Role.ADMIN, Role.AGENT}), "SECRET")
            with pytest.raises(UserError, match="no user named 'bob'"):
                await set_roles(conn, "bob", frozenset({Role.AGENT}), None)
        async with store.engine.connect() as conn:
            again = await get_user(conn, user_id=ann.id)
            everyone = await list_users(conn)
    finally:
        await store.close()
    assert again is not None and again.password_hash == "h4"
    assert again.password_changed_at == T0 + dt.timedelta(hours=1)
    assert again.roles == {Role.ADMIN, Role.AGENT} and again.totp_secret == "SECRET"
    assert [u.name for u in everyone] == ["ann"]


def test_role_names_are_checked() -> None:
    assert parse_roles(["Admin", " agent "]) == {Role.ADMIN, Role.AGENT}
    with pytest.raises(UserError, match="unknown role 'root': expected one of admin, designer"):
        parse_roles(["root"])
