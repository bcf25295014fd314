"""The dialer's parts on their own: the clocks, callback times, pause/stop, crash recovery."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from voicebot.call.session import CallHooks
from voicebot.call.transfer import TransferAsk
from voicebot.campaign import queue
from voicebot.campaign.callbacks import callback_time
from voicebot.campaign.clock import RealClock, SimulatedClock
from voicebot.campaign.config import Pacing
from voicebot.campaign.contacts import Contact
from voicebot.campaign.dialer import INTERRUPTED, Dialer, DialPlan
from voicebot.campaign.runner import CallEnd, CallRequest
from voicebot.compliance.dispositions import Disposition
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.flow.host import HandoffContext
from voicebot.flow.model import Handoff
from voicebot.handoff import Activity, AgentDesk
from voicebot.handoff.presence import Presence
from voicebot.outcomes import Outcome
from voicebot.purpose import Purpose
from voicebot.sim.scripted_runner import ScriptError, SimulatedRunner, parse_script
from voicebot.store import Store, open_store
from voicebot.store.models import ATTEMPTS
from voicebot.telephony.loopback import (
    Callee,
    IncomingCall,
    LoopbackTransport,
    Ring,
    RingAction,
    StaticDirectory,
)

NY = ZoneInfo("America/New_York")


class _AgentAnswers(Callee):
    """The agent's end of a handoff (a loopback peer standing in for the browser)."""

    def ring(self, call: IncomingCall) -> Ring:
        return Ring(RingAction.ANSWER)


MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=NY)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "d.db"))
    yield opened
    await opened.close()


async def test_simulated_clock_jumps_only_when_everyone_waits() -> None:
    clock = SimulatedClock(MONDAY_10)
    seen: list[tuple[str, dt.datetime]] = []
    release = asyncio.Event()

    async def worker() -> None:
        async with clock.working():
            await release.wait()  # busy (not sleeping): time must stand still
            seen.append(("worker", clock.now()))

    async def sleeper() -> None:
        async with clock.working():
            await clock.sleep_until(MONDAY_10 + dt.timedelta(hours=5))
            seen.append(("sleeper", clock.now()))

    tasks = [asyncio.create_task(worker()), asyncio.create_task(sleeper())]
    for _ in range(20):
        await asyncio.sleep(0)
    assert clock.now() == MONDAY_10 and not seen
    release.set()
    await asyncio.gather(*tasks)
    assert seen == [("worker", MONDAY_10), ("sleeper", MONDAY_10 + dt.timedelta(hours=5))]


async def test_simulated_clock_wake_event_cuts_a_sleep_without_moving_time() -> None:
    clock = SimulatedClock(MONDAY_10)
    wake = asyncio.Event()

    async def sleeper() -> dt.datetime:
        async with clock.working():
            await clock.sleep_until(MONDAY_10 + dt.timedelta(days=3), wake)
            return clock.now()

    async def waker() -> None:
        async with clock.working():
            await asyncio.sleep(0)
            wake.set()

    woke_at, _ = await asyncio.gather(sleeper(), waker())
    assert woke_at == MONDAY_10


async def test_real_clock_sleeps_until_wake() -> None:
    clock = RealClock()
    wake = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, wake.set)
    await asyncio.wait_for(clock.sleep_until(clock.now() + dt.timedelta(hours=1), wake), 5)


def test_callback_times_are_read_in_the_callees_zone() -> None:
    now = MONDAY_10.astimezone(dt.UTC)
    default = now + dt.timedelta(days=1)
    number = "+12025550147"
    assert callback_time(None, number, now, default) == default
    assert callback_time("soon", number, now, default) == default
    assert callback_time("14:30", number, now, default) == dt.datetime(
        2026, 11, 23, 14, 30, tzinfo=NY
    )
    assert callback_time("09:00", number, now, default) == dt.datetime(
        2026, 11, 24, 9, 0, tzinfo=NY
    )  # already past today: tomorrow
    assert callback_time("2026-11-25T11:00", number, now, default) == dt.datetime(
        2026, 11, 25, 11, 0, tzinfo=NY
    )
    assert callback_time("2026-11-20T11:00:00+00:00", number, now, default) == default  # past


def test_simulation_scripts_are_checked() -> None:
    assert parse_script("busy; callback@14:00") == [
        (Outcome.BUSY, None),
        (Outcome.CALLBACK, "14:00"),
    ]
    assert parse_script("") == [(Outcome.COMPLETED, None)]
    with pytest.raises(ScriptError, match="'bussy' is not an outcome"):
        parse_script("bussy")


@pytest.fixture
def all_day_gate(store: Store, tmp_path: Path) -> Gate:
    """A gate whose window never closes, for tests on the real clock."""
    path = tmp_path / "policy.yaml"
    path.write_text(
        'purposes:\n  notification:\n    window: {start: "00:00", end: "23:59:59"}\n',
        encoding="utf-8",
    )
    return Gate(store, load_policy(path))


def _plan(**kw: object) -> DialPlan:
    return DialPlan("unit", Purpose.NOTIFICATION, "+12025550100", **kw)  # type: ignore[arg-type]


CONTACTS = [Contact(f"+1202555{100 + i:04d}", {}, i + 2) for i in range(6)]


async def test_pause_holds_new_dials_and_resume_goes_on(store: Store, all_day_gate: Gate) -> None:
    dialled: list[str] = []

    class Recording(SimulatedRunner):
        async def __call__(self, request: CallRequest, hooks: CallHooks) -> CallEnd:
            dialled.append(request.number)
            if len(dialled) == 2:
                dialer.pause()
                asyncio.get_running_loop().call_later(0.05, dialer.resume)
            return await super().__call__(request, hooks)

    plan = _plan(pacing=Pacing(max_concurrent=1, calls_per_second=100))
    dialer = Dialer(store, all_day_gate, plan, Recording(), RealClock())
    await dialer.prepare(CONTACTS)
    entries = await dialer.run()
    assert sorted(dialled) == [c.number for c in CONTACTS]
    assert {e.status for e in entries} == {queue.DONE}
    assert not dialer.paused


async def test_stop_lets_calls_under_way_end_and_dials_nothing_new(
    store: Store, all_day_gate: Gate
) -> None:
    dialer: Dialer

    class Stopping(SimulatedRunner):
        async def __call__(self, request: CallRequest, hooks: CallHooks) -> CallEnd:
            dialer.stop()
            await asyncio.sleep(0.05)
            return await super().__call__(request, hooks)

    plan = _plan(pacing=Pacing(max_concurrent=2, calls_per_second=100))
    dialer = Dialer(store, all_day_gate, plan, Stopping(), RealClock())
    await dialer.prepare(CONTACTS)
    entries = await dialer.run()
    async with store.engine.connect() as conn:
        states = [r.state for r in await conn.execute(select(ATTEMPTS))]
    assert states and set(states) == {"completed"}
    assert len(states) <= 2
    assert sum(e.status == queue.WAITING for e in entries) == len(CONTACTS) - len(states)


async def test_restart_closes_dialing_attempts_and_releases_bare_reservations(
    store: Store,
) -> None:
    gate = Gate(store, load_policy())
    now = MONDAY_10
    plan = _plan()
    first = Dialer(store, gate, plan, SimulatedRunner(), SimulatedClock(now))
    await first.prepare(CONTACTS[:2])
    # What a process killed at the worst moments leaves behind: contact 0 marked dialing,
    # contact 1 reserved by the gate but never marked.
    entries = await queue.load(store, first.campaign_id or 0)
    on_wire = await gate.check_and_reserve(CONTACTS[0].number, "unit", Purpose.NOTIFICATION, now)
    bare = await gate.check_and_reserve(CONTACTS[1].number, "unit", Purpose.NOTIFICATION, now)
    entries[0].attempt_id, entries[0].phase, entries[0].status = (
        on_wire.attempt_id, queue.DIALING, queue.ACTIVE,
    )  # fmt: skip
    await queue.save(store, entries[0], now)

    runner = SimulatedRunner()
    again = Dialer(store, gate, plan, runner, SimulatedClock(now + dt.timedelta(minutes=1)))
    await again.prepare(CONTACTS[:2])
    async with store.engine.connect() as conn:
        rows = {r.id: r for r in await conn.execute(select(ATTEMPTS))}
    assert rows[on_wire.attempt_id or 0].state == "completed"
    assert rows[on_wire.attempt_id or 0].outcome == "failed"
    assert rows[bare.attempt_id or 0].state == "released"
    by_number = {e.number: e for e in again.entries.values()}
    assert by_number[CONTACTS[0].number].note == INTERRUPTED
    await again.run(until=now + dt.timedelta(hours=1))
    # The interrupted contact is not redialled today (1 a day); the released one is dialled.
    assert dict(runner.dialled) == {CONTACTS[1].number: 1}


@pytest.mark.integration
async def test_an_agents_callback_plans_the_contact_again(store: Store, tmp_path: Path) -> None:
    """A handed-off call whose agent wraps up with ``callback``: the dialer calls again at the
    agent's time, even when the wrap-up lands before the dialer has closed the call."""
    path = tmp_path / "policy.yaml"
    path.write_text(
        "purposes:\n  notification:\n"
        '    window: {start: "00:00", end: "23:59:59"}\n'
        "    caps: {per_day: 3, per_week: 5, scope: all}\n",
        encoding="utf-8",
    )
    gate = Gate(store, load_policy(path))
    desk = AgentDesk()
    desk.set_presence("agent1", Presence.AVAILABLE)
    dialled: list[dt.datetime] = []
    callback_at: list[dt.datetime] = []
    answering = LoopbackTransport(StaticDirectory({"+12025550188": _AgentAnswers()}))

    async def agent_side() -> None:
        while desk.activity("agent1")[0] is not Activity.RINGING:
            await asyncio.sleep(0.01)
        _, offer = desk.activity("agent1")
        assert offer is not None
        leg = await answering.dial("+12025550188", "+12025550100", timeout=5)
        await desk.accept(offer.id, "agent1", leg)
        while desk.activity("agent1")[0] is not Activity.WRAP_UP:
            await asyncio.sleep(0.01)
        when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        callback_at.append(when)
        await desk.dispose(offer.id, "agent1", Disposition.CALLBACK, callback_at=when)

    class HandsOver(SimulatedRunner):
        async def __call__(self, request: CallRequest, hooks: CallHooks) -> CallEnd:
            dialled.append(dt.datetime.now(dt.UTC))
            if len(dialled) > 1:
                return CallEnd(Outcome.COMPLETED, 30.0)
            assert hooks.handoff is not None
            context = HandoffContext("unit", "transfer", {}, (), None, None)
            agent = await hooks.handoff(TransferAsk(Handoff(queue="sales"), context, "interested"))
            assert agent is not None
            await agent.leg.hangup()
            agent.call_ended()
            await asyncio.sleep(0.3)  # the agent wraps up before this call is closed
            return CallEnd(Outcome.HANDOFF, 60.0)

    plan = _plan(pacing=Pacing(max_concurrent=1, calls_per_second=100))
    dialer = Dialer(store, gate, plan, HandsOver(), RealClock(), desk=desk)
    await dialer.prepare(CONTACTS[:1])
    agent = asyncio.create_task(agent_side())
    try:
        entries = await asyncio.wait_for(dialer.run(), 30)
    finally:
        await answering.close()
    await agent
    assert len(dialled) == 2 and dialled[1] >= callback_at[0]
    assert [e.status for e in entries] == [queue.DONE]
    async with store.engine.connect() as conn:
        outcomes = [r.outcome for r in await conn.execute(select(ATTEMPTS.c.outcome))]
    assert outcomes == ["handoff", "completed"]
