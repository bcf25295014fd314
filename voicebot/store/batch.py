"""Group commit for SQLite: many small write units, one transaction, one fsync.

SQLite has one writer at a time and, with ``synchronous=FULL``, pays an fsync per commit; with
one transaction per decision that fsync is the whole budget (a few hundred per second). Here the
units submitted by concurrent tasks queue up and run back to back on one thread, inside one
``BEGIN IMMEDIATE`` transaction, each in its own savepoint (a failing unit rolls back alone).
Each unit still runs alone under the write lock, so "check, then write" stays atomic; its result
is handed back only after the whole batch committed, so nothing is reported that is not durable.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine

T = TypeVar("T")
MAX_BATCH = 256

Unit = Callable[[Connection], Any]


class GroupCommitter:
    """Runs sync write units on one thread, batched into shared transactions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._pending: list[tuple[Unit, asyncio.Future[Any]]] = []
        self._draining = False
        self._drainer: asyncio.Task[None] | None = None
        self.batches = 0
        self.units = 0
        self.busy_seconds = 0.0
        """Time the writer thread spent in transactions (includes commits)."""
        self.commit_seconds = 0.0
        """Time spent in COMMIT alone (the fsync of ``synchronous=FULL``)."""

    async def run(self, unit: Callable[[Connection], T]) -> T:
        """Run ``unit(connection)`` in the next batch; returns its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((unit, future))
        if not self._draining:
            self._draining = True
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                # Let tasks woken by the previous batch queue their next unit first.
                await asyncio.sleep(0)
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                units = [unit for unit, _ in batch]
                try:
                    outcomes = await loop.run_in_executor(self._thread, self._run_batch, units)
                except BaseException as exc:  # the commit itself failed: nothing is durable
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._draining = False

    def _run_batch(self, units: list[Unit]) -> list[tuple[bool, Any]]:
        started = time.perf_counter()
        outcomes: list[tuple[bool, Any]] = []
        with self._engine.connect() as conn, conn.begin() as transaction:
            # Savepoints on the driver connection directly: SQLAlchemy's cost more than a unit.
            raw = conn.connection.driver_connection
            assert raw is not None
            for unit in units:
                raw.execute("SAVEPOINT unit")
                try:
                    value = unit(conn)
                except Exception as exc:
                    raw.execute("ROLLBACK TO unit")
                    raw.execute("RELEASE unit")
                    outcomes.append((False, exc))
                else:
                    raw.execute("RELEASE unit")
                    outcomes.append((True, value))
            committing = time.perf_counter()
            transaction.commit()
            self.commit_seconds += time.perf_counter() - committing
        self.busy_seconds += time.perf_counter() - started
        self.batches += 1
        self.units += len(units)
        return outcomes

    def close(self) -> None:
        """Finish queued work, stop the writer thread and close its connections."""
        self._thread.shutdown(wait=True)
        self._engine.dispose()
