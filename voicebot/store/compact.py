"""Compact the database so rows deleted or rewritten are not left readable in free space.

SQLite keeps deleted rows' bytes in free pages and old page images in its write-ahead log until
they are reused; ``secure_delete`` (set on every connection, see :mod:`voicebot.store.engine`)
zeroes the bytes of rows deleted from then on, and this rewrites the file (``VACUUM``) and empties
the log (``wal_checkpoint(TRUNCATE)``). On PostgreSQL the tables that refer to numbers are
vacuumed. Erasure runs it after each erasure, the store after a migration rewrote numbers.
"""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

PERSONAL_TABLES = ("contacts", "attempts", "review_queue", "freezes", "dnc_entries", "dialer_queue")
"""The tables whose dead rows may hold personal data (PostgreSQL vacuums these)."""


async def compact(engine: AsyncEngine) -> bool:
    """Rewrite the database so dead rows cannot be read back; False if the log stayed busy."""
    if engine.dialect.name == "sqlite":
        database = make_url(str(engine.url)).database
        if not database or database == ":memory:":
            return True
        return await asyncio.to_thread(_compact_sqlite, database)
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in PERSONAL_TABLES:
            await auto.execute(text(f"VACUUM {table}"))
    return True


def _compact_sqlite(database: str) -> bool:
    raw = sqlite3.connect(database, timeout=60.0, isolation_level=None)
    try:
        raw.execute("PRAGMA secure_delete = ON")
        raw.execute("VACUUM")
        busy, _log, _moved = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy
    finally:
        raw.close()
