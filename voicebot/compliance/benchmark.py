"""Load the gate: many check-and-reserve decisions, in one process or several, on one SQLite file.

Used by ``voicebot bench gate`` (which prints the figures) and by the multi-process test (which
asserts that no number got more reservations than its cap). Workers are spawned processes, each
with its own engine, as separate dialer processes would be.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from dataclasses import dataclass
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from voicebot.compliance.gate import COUNTING_STATES, Gate
from voicebot.compliance.policy import load_policy
from voicebot.flow.model import Purpose
from voicebot.store.engine import open_store
from voicebot.store.models import ATTEMPTS

BENCH_NOW = "2026-11-23T10:00:00+08:00"
"""A Monday inside the calling window, so only the caps deny."""


@dataclass(frozen=True)
class BenchResult:
    """Figures of one run."""

    processes: int
    decisions: int
    allowed: int
    seconds: float
    violations: int
    """Reservations beyond the day cap, summed over numbers (must be 0)."""
    per_number: dict[str, int]

    @property
    def rate(self) -> float:
        """Decisions per second over the whole run."""
        return self.decisions / self.seconds if self.seconds else 0.0


def bench_numbers(count: int) -> list[str]:
    """``count`` distinct valid test numbers (China Mobile 139 range, fictional subscribers)."""
    return [f"+86139{i:08d}" for i in range(count)]


async def prepare(db_url: str) -> None:
    """Create and migrate the database once, before workers start."""
    store = await open_store(db_url)
    await store.close()


def start_workers(
    db_url: str,
    policy_file: Path | None,
    processes: int,
    per_process: int,
    numbers: list[str],
) -> tuple[list[Any], SynchronizedArray[int], Any]:
    """Spawn the workers; returns (processes, progress counters, result queue)."""
    ctx = mp.get_context("spawn")
    progress: SynchronizedArray[int] = ctx.Array("q", processes, lock=False)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=_worker,
            args=(db_url, policy_file, index, per_process, numbers, progress, results),
            daemon=True,
        )
        for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    return workers, progress, results


async def count_per_number(db_url: str) -> dict[str, int]:
    """Counting reservations per number (all on the benchmark's one local day)."""
    store = await open_store(db_url, migrate=False)
    try:
        async with store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(ATTEMPTS.c.number, func.count())
                    .where(ATTEMPTS.c.state.in_(COUNTING_STATES))
                    .group_by(ATTEMPTS.c.number)
                )
            ).all()
        return {str(number): int(n) for number, n in rows}
    finally:
        await store.close()


def violations(per_number: dict[str, int], cap: int) -> int:
    """Reservations beyond ``cap``, summed over numbers."""
    return sum(max(0, n - cap) for n in per_number.values())


async def run_decisions(
    gate: Gate, per_process: int, numbers: list[str], offset: int, progress: Any, slot: int
) -> int:
    """Decide ``per_process`` times, cycling over ``numbers``; returns how many were allowed."""
    import datetime as dt

    now = dt.datetime.fromisoformat(BENCH_NOW)
    allowed = 0
    for i in range(per_process):
        number = numbers[(offset + i) % len(numbers)]
        decision = await gate.check_and_reserve(number, "bench", Purpose.NOTIFICATION, now)
        allowed += decision.allowed
        if progress is not None and (i & 15) == 15:
            progress[slot] = i + 1
    if progress is not None:
        progress[slot] = per_process
    return allowed


def _worker(
    db_url: str,
    policy_file: Path | None,
    index: int,
    per_process: int,
    numbers: list[str],
    progress: Any,
    results: Any,
) -> None:
    async def main() -> int:
        store = await open_store(db_url, migrate=False)
        try:
            gate = Gate(store, load_policy(policy_file))
            return await run_decisions(gate, per_process, numbers, index * 7, progress, index)
        finally:
            await store.close()

    started = time.perf_counter()
    allowed = asyncio.run(main())
    results.put((index, allowed, time.perf_counter() - started))
