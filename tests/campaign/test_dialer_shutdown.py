"""The dialer stops in order: a call task that fails never stalls it, and cancelling or
interrupting it mid-call ends every live call with an outcome before it returns."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from voicebot.call.session import CallHooks
from voicebot.campaign import queue
from voicebot.campaign.clock import RealClock
from voicebot.campaign.config import Pacing
from voicebot.campaign.contacts import Contact
from voicebot.campaign.dialer import INTERRUPTED, Dialer, DialPlan
from voicebot.campaign.runner import CallEnd, CallRequest
from voicebot.compliance.decision import Decision
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.outcomes import Outcome
from voicebot.purpose import Purpose
from voicebot.store import Store, open_store
from voicebot.store.models import ATTEMPTS, DIALER_QUEUE

CONTACTS = [Contact(f"+1202555{110 + i:04d}", {}, i + 2) for i in range(3)]
PLAN = DialPlan(
    "shutdown", Purpose.NOTIFICATION, "+12025550100",
    pacing=Pacing(max_concurrent=3, calls_per_second=100),
)  # fmt: skip


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "s.db"))
    yield opened
    await opened.close()


@pytest.fixture
def gate(store: Store, tmp_path: Path) -> Gate:
    path = tmp_path / "policy.yaml"
    path.write_text(
        'purposes:\n  notification:\n    window: {start: "00:00", end: "23:59:59"}\n',
        encoding="utf-8",
    )
    return Gate(store, load_policy(path))


class Endless:
    """Calls that go on until they are cancelled; ``live`` is set once all have started."""

    def __init__(self, calls: int) -> None:
        self.calls = calls
        self.started = 0
        self.live = asyncio.Event()

    async def __call__(self, request: CallRequest, hooks: CallHooks) -> CallEnd:
        self.started += 1
        if self.started == self.calls:
            self.live.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def _attempts(store: Store) -> list[tuple[str, str | None]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(ATTEMPTS.c.state, ATTEMPTS.c.outcome))
        return [(r.state, r.outcome) for r in rows]


async def _queue(store: Store) -> list[tuple[str, str | None, str | None]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(DIALER_QUEUE.c.status, DIALER_QUEUE.c.phase, DIALER_QUEUE.c.note)
        )
        return [(r.status, r.phase, r.note) for r in rows]


async def test_a_call_task_that_raises_never_stalls_the_dialer(store: Store, gate: Gate) -> None:
    class ClosedElsewhere:
        """Another party closes the attempt under the call, so recording its end fails."""

        async def __call__(self, request: CallRequest, hooks: CallHooks) -> CallEnd:
            await gate.record_outcome(request.attempt_id, Outcome.BUSY, 0.0, RealClock().now())
            return CallEnd(Outcome.COMPLETED, 5.0)

    dialer = Dialer(store, gate, PLAN, ClosedElsewhere(), RealClock())
    await dialer.prepare(CONTACTS[:1])
    # Before the fix the failing call task never woke run(): this waited forever.
    entries = await asyncio.wait_for(dialer.run(), 20)
    assert [e.status for e in entries] != [queue.ACTIVE]
    assert entries[0].last_outcome == Outcome.FAILED.value
    assert "AttemptStateError" in (entries[0].note or "")
    assert await _attempts(store) == [("completed", "busy")]


async def test_cancelling_run_mid_call_ends_every_call_with_an_outcome(
    store: Store, gate: Gate
) -> None:
    runner = Endless(len(CONTACTS))
    dialer = Dialer(store, gate, PLAN, runner, RealClock())
    await dialer.prepare(CONTACTS)
    task = asyncio.create_task(dialer.run())
    await asyncio.wait_for(runner.live.wait(), 20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Nothing is left running behind the cancelled run() to write after the store closes.
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("call-")] == []
    assert await _attempts(store) == [("completed", "failed")] * len(CONTACTS)
    # No retry rule for failed calls in this plan: each contact is done, marked interrupted.
    assert await _queue(store) == [(queue.DONE, None, INTERRUPTED)] * len(CONTACTS)


async def test_interrupt_ends_live_calls_and_run_returns(store: Store, gate: Gate) -> None:
    runner = Endless(len(CONTACTS))
    dialer = Dialer(store, gate, PLAN, runner, RealClock())
    await dialer.prepare(CONTACTS)
    task = asyncio.create_task(dialer.run())
    await asyncio.wait_for(runner.live.wait(), 20)
    dialer.interrupt()
    entries = await asyncio.wait_for(task, 20)
    assert {(e.status, e.last_outcome, e.note) for e in entries} == {
        (queue.DONE, "failed", INTERRUPTED)
    }
    assert await _attempts(store) == [("completed", "failed")] * len(CONTACTS)


async def test_a_reservation_committed_as_its_task_is_cancelled_is_released(
    store: Store, gate: Gate
) -> None:
    class CancelledAsItCommits(Gate):
        """The decision is durable, but the task asking for it is cancelled before it learns
        the attempt's id (a shutdown landing mid-commit)."""

        async def check_and_reserve(
            self, number: str, campaign: str, purpose: Purpose, now: dt.datetime
        ) -> Decision:
            await super().check_and_reserve(number, campaign, purpose, now)
            raise asyncio.CancelledError

    cancelling = CancelledAsItCommits(store, gate.policy)
    dialer = Dialer(store, cancelling, PLAN, Endless(1), RealClock())
    await dialer.prepare(CONTACTS[:1])
    with pytest.raises(asyncio.CancelledError):
        await dialer.run()
    # Stale: reserved, and no contact refers to it; only this process runs the campaign.
    assert await _attempts(store) == [("released", None)]


async def test_a_failing_schedule_ends_the_calls_under_way_before_it_raises(
    store: Store, gate: Gate
) -> None:
    runner = Endless(1)

    class BreaksOnSecond(Gate):
        """The first decision goes through; the second fails (a store gone away)."""

        asked = 0

        async def check_and_reserve(
            self, number: str, campaign: str, purpose: Purpose, now: dt.datetime
        ) -> Decision:
            self.asked += 1
            if self.asked > 1:
                await runner.live.wait()  # the first call is on the line
                raise RuntimeError("the store went away")
            return await super().check_and_reserve(number, campaign, purpose, now)

    dialer = Dialer(store, BreaksOnSecond(store, gate.policy), PLAN, runner, RealClock())
    await dialer.prepare(CONTACTS[:2])
    with pytest.raises(RuntimeError, match="went away"):
        await dialer.run()
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("call-")] == []
    assert await _attempts(store) == [("completed", "failed")]


async def test_a_manual_call_counting_under_the_campaign_is_left_alone(
    store: Store, gate: Gate
) -> None:
    # `voicebot call --campaign shutdown` to someone who is not a contact, still on the line.
    manual = await gate.check_and_reserve(
        "+12025550199", PLAN.name, Purpose.NOTIFICATION, RealClock().now()
    )
    assert manual.attempt_id is not None
    runner = Endless(1)
    dialer = Dialer(store, gate, PLAN, runner, RealClock())
    await dialer.prepare(CONTACTS[:1])
    task = asyncio.create_task(dialer.run())
    await asyncio.wait_for(runner.live.wait(), 20)
    dialer.interrupt()
    await asyncio.wait_for(task, 20)
    assert sorted(await _attempts(store)) == [("completed", "failed"), ("reserved", None)]
