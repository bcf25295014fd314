"""Open the store: an async engine set up for safe concurrent use, migrated on first use.

SQLite (the default, no server) runs in WAL mode with a busy timeout and ``synchronous=FULL``
(an opt-out or a reservation must survive a crash), and every transaction starts with
``BEGIN IMMEDIATE``: the write lock is taken up front, so a check and the write that depends on
it form one serialized unit across processes. PostgreSQL serializes per number with advisory
locks instead (see :meth:`Store.lock_number`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from voicebot.store.location import normalize_url

BUSY_TIMEOUT_S = 60.0


@dataclass
class Store:
    """An open database: the engine, a session factory, and the dialect's locking rule."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # One writer at a time per process on SQLite: waiting on an asyncio lock is cheaper than
    # several of our own connections spinning on SQLite's busy handler.
    _local_writer: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def is_sqlite(self) -> bool:
        """Whether this store is a SQLite file (else PostgreSQL)."""
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on error.

        On SQLite it begins with ``BEGIN IMMEDIATE`` (the file's write lock, across processes) and
        tasks of this process queue on an asyncio lock first.
        """
        if self.is_sqlite:
            async with self._local_writer, self.engine.begin() as conn:
                yield conn
        else:
            async with self.engine.begin() as conn:
                yield conn

    async def lock_number(self, conn: AsyncConnection | AsyncSession, number: str) -> None:
        """Serialize, until the transaction ends, everything done for ``number``.

        On SQLite the transaction already holds the database's write lock (``BEGIN IMMEDIATE``);
        on PostgreSQL this takes a transaction-scoped advisory lock keyed on the number.
        """
        if not self.is_sqlite:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))"), {"n": number}
            )

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


async def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (and, on first use, create and migrate) the database at ``url``.

    Args:
        url: a SQLAlchemy URL or a SQLite path (see :mod:`voicebot.store.location`).
        migrate: apply pending Alembic migrations before returning.
    """
    async_url = normalize_url(url)
    engine = _create_engine(async_url)
    store = Store(engine=engine, sessions=async_sessionmaker(engine, expire_on_commit=False))
    if migrate:
        from voicebot.store.migrate import upgrade

        try:
            await upgrade(engine)
        except BaseException:
            await engine.dispose()
            raise
    return store


def _create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it otherwise).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}",
        "PRAGMA foreign_keys=ON",
    ):
        cursor.execute(pragma)
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
