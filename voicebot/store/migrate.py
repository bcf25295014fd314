"""Apply the Alembic migrations shipped inside the package, on first use of a database.

The upgrade runs inside one transaction that starts with the write lock (SQLite) or an advisory
lock (PostgreSQL), so several processes opening a fresh database at once migrate it once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 0x766F6963  # "voic": a fixed advisory-lock key for migrations


def alembic_config(
    connection: Connection | None = None, attributes: dict[str, Any] | None = None
) -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed).

    ``attributes`` reach the migrations (``number_keys``: the keys that hash and seal numbers).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes.update(attributes or {})
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(
    engine: AsyncEngine, revision: str = "head", attributes: dict[str, Any] | None = None
) -> bool:
    """Bring the database at ``engine`` to ``revision`` (default: the newest).

    Returns:
        Whether a migration rewrote personal data in place (then compact the file, so the old
        bytes do not survive in free pages).
    """
    shared = dict(attributes or {})
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        await conn.run_sync(_upgrade, revision, shared)
    return bool(shared.get("compact"))


def _upgrade(connection: Connection, revision: str, attributes: dict[str, Any]) -> None:
    config = alembic_config(connection, attributes)
    command.upgrade(config, revision)
    attributes["compact"] = bool(config.attributes.get("compact"))
