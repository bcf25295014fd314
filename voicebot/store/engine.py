"""Open the store: an async engine set up for safe concurrent use, migrated on first use.

SQLite (the default, no server) runs in WAL mode with a busy timeout and ``synchronous=FULL``
(an opt-out or a reservation must survive a crash), and every transaction starts with
``BEGIN IMMEDIATE``: the write lock is taken up front, so a check and the write that depends on
it form one serialized unit across processes. Hot write paths (the gate) go through
:meth:`Store.serialized`, which on SQLite group-commits concurrent units on one writer thread
(:mod:`voicebot.store.batch`). PostgreSQL serializes per number with advisory locks instead
(see :func:`lock_number_sync`).

Every store carries the keys that hash and seal phone numbers (:attr:`Store.numbers`, see
:mod:`voicebot.privacy.number_keys`): no table holds a number in the clear. A SQLite file is
created 0600 (its ``-wal``/``-shm`` follow it), like the key file. SQLite connections
run with ``secure_delete``, so the bytes of a deleted or rewritten row are zeroed rather than
left in a free page where a copy of the file could still show them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from voicebot.privacy.audit_watermark import WatermarkSeal, watch
from voicebot.privacy.number_keys import NumberKeyMissing, NumberKeys, missing_keys
from voicebot.privacy.vault.keys import Keyring, load_or_create_keyring
from voicebot.privacy.vault.vault import AuditHook, Vault
from voicebot.store.batch import GroupCommitter
from voicebot.store.identity import read_store_id, vault_of
from voicebot.store.location import normalize_url
from voicebot.store.models import NUMBER_KEYS

BUSY_TIMEOUT_S = 60.0
T = TypeVar("T")
log = logging.getLogger(__name__)
_LOCK_SQL = text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))")


def lock_number_sync(conn: Connection, number: str) -> None:
    """Serialize, until the transaction ends, everything done for ``number``.

    On SQLite the transaction already holds the database's write lock (``BEGIN IMMEDIATE``);
    on PostgreSQL this takes a transaction-scoped advisory lock keyed on the number.
    """
    if conn.dialect.name != "sqlite":
        conn.execute(_LOCK_SQL, {"n": number})


@dataclass
class Store:
    """An open database: the engine, a session factory, and the dialect's locking rule."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    numbers: NumberKeys
    """Hash, seal and open phone numbers (every number column is stored this way)."""
    watermark: WatermarkSeal
    """Seals the audit log's high-water mark on every append (see
    :mod:`voicebot.privacy.audit_watermark`); ``voicebot audit verify`` checks it."""
    committer: GroupCommitter | None = None
    """SQLite only: the group-commit writer behind :meth:`serialized`."""
    store_id: str | None = None
    """This store's random id (read when it is opened with migrations); its vault names it."""
    # One writer at a time per process on SQLite: waiting on an asyncio lock is cheaper than
    # several of our own connections spinning on SQLite's busy handler.
    _local_writer: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def is_sqlite(self) -> bool:
        """Whether this store is a SQLite file (else PostgreSQL)."""
        return self.engine.dialect.name == "sqlite"

    @property
    def url(self) -> str:
        """The store's database URL (with its password: never log it)."""
        return self.engine.url.render_as_string(hide_password=False)

    def vault(self, keyring: Keyring, audit: AuditHook, root: Path | None = None) -> Vault:
        """This store's vault: ``root`` or the place derived from the store, checked to be its
        own (:func:`voicebot.store.identity.vault_of`).

        Raises:
            VaultOwnerError: the vault belongs to another store.
        """
        return vault_of(self.url, self.store_id, keyring, audit, root)

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
        """Async form of :func:`lock_number_sync` for code on :meth:`write` transactions."""
        if not self.is_sqlite:
            await conn.execute(_LOCK_SQL, {"n": number})

    async def serialized(self, unit: Callable[[Connection], T]) -> T:
        """Run ``unit(connection)`` in a write transaction and return its result once committed.

        The unit is plain sync SQLAlchemy code; it must call :func:`lock_number_sync` for each
        number it reads and writes. SQLite: group-committed with other units (one fsync per
        batch). PostgreSQL: its own transaction on the async engine.
        """
        if self.committer is not None:
            return await self.committer.run(unit)
        async with self.engine.begin() as conn:
            return await conn.run_sync(unit)

    async def close(self) -> None:
        """Close every pooled connection and stop the writer thread."""
        if self.committer is not None:
            self.committer.close()
        await self.engine.dispose()


async def open_store(url: str, *, migrate: bool = True, keyring: Keyring | None = None) -> Store:
    """Open (and, on first use, create and migrate) the database at ``url``.

    Args:
        url: a SQLAlchemy URL or a SQLite path (see :mod:`voicebot.store.location`).
        migrate: apply pending Alembic migrations (and check the keyring) before returning.
        keyring: the master keys numbers are hashed and sealed under (default: the configured
            keyring, created as ``voicebot keys init`` would if there is none).

    Raises:
        NumberKeyMissing: the store holds numbers under a master key ``keyring`` lacks.
        KeyFileError: the configured key file or ``VOICEBOT_MASTER_KEY`` is unusable.
    """
    numbers = NumberKeys(keyring if keyring is not None else _configured_keyring())
    async_url = normalize_url(url)
    engine = _create_engine(async_url)
    store = Store(
        engine=engine,
        sessions=async_sessionmaker(engine, expire_on_commit=False),
        numbers=numbers,
        watermark=WatermarkSeal(numbers.keyring),
    )
    watch(engine.sync_engine, store.watermark)
    if store.is_sqlite:
        sync_engine = _create_sync_sqlite_engine(async_url)
        watch(sync_engine, store.watermark)
        store.committer = GroupCommitter(sync_engine)
    if migrate:
        from voicebot.store.compact import compact
        from voicebot.store.migrate import upgrade

        try:
            if await upgrade(engine, attributes={"number_keys": numbers}):
                await compact(engine)
            await _register_keys(store)
            async with engine.connect() as conn:
                store.store_id = await conn.run_sync(read_store_id)
        except BaseException:
            await store.close()
            raise
    return store


def _configured_keyring() -> Keyring:
    keyring, created = load_or_create_keyring()
    if created:
        from voicebot.privacy.dnc_hash import reset_key_cache

        reset_key_cache()
        log.warning(
            "created the master key file %s (phone numbers in the store are hashed and sealed "
            "under it): back it up, the numbers cannot be dialled again without it",
            keyring.source,
        )
    return keyring


async def _register_keys(store: Store) -> None:
    """Refuse a keyring that lacks a key numbers were stored under; record the active key."""
    keys = store.numbers
    async with store.engine.connect() as conn:
        used = [str(k) for k in (await conn.execute(select(NUMBER_KEYS.c.key_id))).scalars()]
    missing = missing_keys(used, keys)
    if missing:
        raise NumberKeyMissing(
            f"this store holds phone numbers hashed and sealed under master key(s) "
            f"{', '.join(missing)}, which the keyring ({keys.keyring.source or 'given'}: "
            f"{', '.join(keys.key_ids)}) does not hold; load the key file they were written "
            "with (an old key stays in it as `old` after `voicebot keys rotate`)"
        )
    if keys.active_id in used:
        return
    # Several processes may open a fresh store at once: the first insert wins, the others no-op.
    dialect_insert = sqlite_insert if store.is_sqlite else pg_insert
    statement = (
        dialect_insert(NUMBER_KEYS)
        .values(key_id=keys.active_id, first_used_at=dt.datetime.now(dt.UTC))
        .on_conflict_do_nothing(index_elements=["key_id"])
    )
    async with store.write() as conn:
        await conn.execute(statement)


def _create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        make_private(Path(database))
    engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


def make_private(path: Path) -> None:
    """Create the SQLite file ``path`` readable by its owner only (0600), or make an existing
    one so; its folder, when created here, is 0700.

    SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file, so the log of
    recent writes is as private as the file itself.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            try:
                os.chmod(path, mode & 0o700)
            except PermissionError:  # not ours: say so, the store still opens
                log.warning("the store file %s is readable by others (mode %o)", path, mode)
            else:
                for companion in ("-wal", "-shm", "-journal"):
                    other = path.with_name(path.name + companion)
                    if other.exists():
                        os.chmod(other, stat.S_IMODE(other.stat().st_mode) & 0o700)
    else:
        os.close(fd)


def _create_sync_sqlite_engine(url: str) -> Engine:
    sync_url = make_url(url).set(drivername="sqlite+pysqlite")
    engine = create_engine(
        sync_url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it otherwise).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        # Switching a fresh file to WAL needs an exclusive lock and SQLite answers "locked" at
        # once, without its busy handler, when several connections race for it: retry.
        _retry_while_locked(lambda: cursor.execute("PRAGMA journal_mode=WAL"))
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
    finally:
        cursor.close()


def _retry_while_locked(run: Callable[[], object], seconds: float = BUSY_TIMEOUT_S) -> None:
    """Run ``run`` until it does not fail with "database is locked" (at most ``seconds``)."""
    deadline = time.monotonic() + seconds
    delay = 0.01
    while True:
        try:
            run()
            return
        except Exception as exc:  # the DB-API's OperationalError, whichever driver wraps it
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
