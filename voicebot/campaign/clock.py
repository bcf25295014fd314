"""The dialer's sense of time, injectable: the wall clock in production, a simulated one in tests.

Every instant the dialer uses (what the gate is asked about, when a retry is due) comes from a
:class:`Clock`, and every wait goes through :meth:`Clock.sleep_until`. The :class:`SimulatedClock`
jumps straight to the next due time as soon as every task that works on its time is waiting, so a
week of campaign (windows, holidays, caps, freezes, callbacks) runs in seconds with the real gate
and the real store.

Tasks tell the clock they are working with ``async with clock.working():``; a sleeper gives its
token back while it sleeps. A sleep may be cut short by a ``wake`` event (a call ended, pause,
stop); the simulated clock honours a set wake event before it considers moving time forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    """What the dialer needs of time."""

    def now(self) -> dt.datetime:
        """The current instant, aware (UTC)."""
        ...

    async def sleep_until(self, when: dt.datetime, wake: asyncio.Event | None = None) -> None:
        """Return at ``when``, or earlier once ``wake`` is set."""
        ...

    def working(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Mark the calling task as busy on this clock's time (it must not jump meanwhile)."""
        ...

    def poke(self) -> None:
        """A wake event was set from outside any working task (pause, stop)."""
        ...


class RealClock:
    """The wall clock; waits are real, ``working`` is a no-op."""

    def now(self) -> dt.datetime:
        """Now, in UTC."""
        return dt.datetime.now(dt.UTC)

    async def sleep_until(self, when: dt.datetime, wake: asyncio.Event | None = None) -> None:
        """Sleep until ``when`` (or ``wake``); no polling: one timer, one event wait."""
        delay = (when - self.now()).total_seconds()
        if wake is None:
            await asyncio.sleep(max(delay, 0.0))
            return
        if wake.is_set() or delay <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), delay)

    @contextlib.asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        """Nothing to track on the wall clock."""
        yield

    def poke(self) -> None:
        """Wake events wake real sleepers by themselves."""


@dataclass(order=True)
class _Sleeper:
    when: dt.datetime
    seq: int
    future: asyncio.Future[None] = field(compare=False)
    wake: asyncio.Event | None = field(compare=False)


class SimulatedClock:
    """A clock that stands still while anyone works and jumps to the next wake-up when nobody does.

    Args:
        start: the simulated instant to begin at (aware).
    """

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be an aware datetime")
        self._now = start.astimezone(dt.UTC)
        self._working = 0
        self._sleepers: list[_Sleeper] = []
        self._seq = itertools.count()
        self._check_pending = False

    def now(self) -> dt.datetime:
        """The simulated instant."""
        return self._now

    @contextlib.asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        """Hold time still while the block runs."""
        self._working += 1
        try:
            yield
        finally:
            self._working -= 1
            self._schedule_check()

    async def sleep_until(self, when: dt.datetime, wake: asyncio.Event | None = None) -> None:
        """Give back this task's working token until ``when`` (or ``wake``), then take it again.

        Must be called from inside :meth:`working`.
        """
        if self._working <= 0:
            raise RuntimeError("sleep_until outside clock.working()")
        if when <= self._now or (wake is not None and wake.is_set()):
            await asyncio.sleep(0)
            return
        sleeper = _Sleeper(when, next(self._seq), asyncio.get_running_loop().create_future(), wake)
        heapq.heappush(self._sleepers, sleeper)
        self._working -= 1
        self._schedule_check()
        try:
            await sleeper.future
        except asyncio.CancelledError:
            if not sleeper.future.done() or sleeper.future.cancelled():
                # Cancelled while asleep: the token was never handed back by the clock.
                with contextlib.suppress(ValueError):
                    self._sleepers.remove(sleeper)
                    heapq.heapify(self._sleepers)
                self._working += 1
            raise

    def poke(self) -> None:
        """Let sleepers whose wake event was set go on."""
        self._schedule_check()

    def _schedule_check(self) -> None:
        if not self._check_pending:
            self._check_pending = True
            asyncio.get_running_loop().call_soon(self._check)

    def _check(self) -> None:
        """Wake whoever may go on: sleepers whose wake event is set, else (nobody working) the
        earliest sleepers, after moving time to their instant."""
        self._check_pending = False
        woken = [s for s in self._sleepers if s.wake is not None and s.wake.is_set()]
        if not woken and self._working == 0 and self._sleepers:
            first = self._sleepers[0].when
            self._now = max(self._now, first)
            woken = [s for s in self._sleepers if s.when <= self._now]
        for sleeper in woken:
            self._sleepers.remove(sleeper)
            if not sleeper.future.done():
                self._working += 1
                sleeper.future.set_result(None)
        if woken:
            heapq.heapify(self._sleepers)
