"""Load the gate: many check-and-reserve decisions, in one process or several, on one SQLite file.

Used by ``voicebot bench gate`` (which prints the figures) and by the multi-process test (which
asserts that no number got more reservations than its cap). Workers are spawned processes, each
with its own engine, as separate dialer processes would be.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing as mp
import queue
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path
from typing import Any

from sqlalchemy import select

from voicebot.compliance.gate import COUNTING_STATES, Gate
from voicebot.compliance.policy import load_policy
from voicebot.compliance.zones import parse_callee
from voicebot.purpose import Purpose
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
    per_number: dict[str, int]
    """Counting reservations per number after the run (read back from the database)."""

    def violations(self, cap: int) -> int:
        """Reservations beyond ``cap``, summed over numbers (must be 0)."""
        return sum(max(0, n - cap) for n in self.per_number.values())

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
    concurrency: int,
) -> tuple[list[Any], SynchronizedArray[int], Any, Any]:
    """Spawn the workers; returns (processes, progress counters, result queue, start barrier).

    Each worker imports, opens the store and then waits on the barrier, so that the parent can
    time the decisions alone by passing the barrier last.
    """
    ctx = mp.get_context("spawn")
    progress: SynchronizedArray[int] = ctx.Array("q", processes, lock=False)
    results = ctx.Queue()
    barrier = ctx.Barrier(processes + 1)
    workers = [
        ctx.Process(
            target=_worker,
            args=(
                db_url,
                policy_file,
                index,
                per_process,
                numbers,
                concurrency,
                progress,
                results,
                barrier,
            ),
            daemon=True,
        )
        for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    return workers, progress, results, barrier


def run_processes(
    db_url: str,
    policy_file: Path | None,
    processes: int,
    per_process: int,
    numbers: list[str],
    concurrency: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> BenchResult:
    """Run ``processes`` spawned workers on one database and count what they reserved.

    Raises:
        RuntimeError: a worker died or reported nothing (its exit code is in the message).
    """
    asyncio.run(prepare(db_url))
    workers, progress, results, barrier = start_workers(
        db_url, policy_file, processes, per_process, numbers, concurrency
    )
    reports: dict[int, tuple[int, float]] = {}
    try:
        barrier.wait(timeout=300)
        started = time.perf_counter()
        while len(reports) < processes:
            try:
                index, allowed, seconds = results.get(timeout=0.1)
                reports[index] = (allowed, seconds)
            except queue.Empty:
                dead = [w for w in workers if w.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(
                        f"a gate worker failed (exit code {dead[0].exitcode})"
                    ) from None
            if on_progress is not None:
                on_progress(sum(progress[:]))
        elapsed = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
    per_number = asyncio.run(count_per_number(db_url))
    return BenchResult(
        processes=processes,
        decisions=processes * per_process,
        allowed=sum(a for a, _ in reports.values()),
        seconds=elapsed,
        per_number=per_number,
    )


async def count_per_number(db_url: str) -> dict[str, int]:
    """Counting reservations per number (all on the benchmark's one local day), each number
    opened from its attempts' sealed copies."""
    store = await open_store(db_url, migrate=False)
    try:
        async with store.engine.connect() as conn:
            sealed = (
                await conn.execute(
                    select(ATTEMPTS.c.number_sealed).where(ATTEMPTS.c.state.in_(COUNTING_STATES))
                )
            ).scalars()
            return dict(Counter(store.numbers.open(s) for s in sealed))
    finally:
        await store.close()


async def run_decisions(
    gate: Gate,
    count: int,
    numbers: list[str],
    offset: int = 0,
    concurrency: int = 1,
    progress: Any = None,
    slot: int = 0,
) -> int:
    """Make ``count`` decisions over ``numbers`` from ``concurrency`` tasks; returns allowed.

    Tasks take numbers round-robin from ``offset``, as a dialer's lines would take contacts.
    """
    now = dt.datetime.fromisoformat(BENCH_NOW)
    done = 0
    allowed = 0

    async def line(task: int) -> None:
        nonlocal done, allowed
        for i in range(task, count, concurrency):
            number = numbers[(offset + i) % len(numbers)]
            decision = await gate.check_and_reserve(number, "bench", Purpose.NOTIFICATION, now)
            allowed += decision.allowed
            done += 1
            if progress is not None and (done & 15) == 0:
                progress[slot] = done

    await asyncio.gather(*(line(task) for task in range(min(concurrency, count))))
    if progress is not None:
        progress[slot] = done
    return allowed


def _worker(
    db_url: str,
    policy_file: Path | None,
    index: int,
    per_process: int,
    numbers: list[str],
    concurrency: int,
    progress: Any,
    results: Any,
    barrier: Any,
) -> None:
    async def main() -> int:
        store = await open_store(db_url, migrate=False)
        try:
            gate = Gate(store, load_policy(policy_file))
            parse_callee(numbers[0])  # warm phonenumbers' metadata before the clock starts
            await asyncio.to_thread(barrier.wait, 300)
            return await run_decisions(
                gate, per_process, numbers, index * 7, concurrency, progress, index
            )
        finally:
            await store.close()

    started = time.perf_counter()
    allowed = asyncio.run(main())
    results.put((index, allowed, time.perf_counter() - started))
