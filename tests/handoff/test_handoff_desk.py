"""The agent desk: who rings first, what declining, ringing out, accepting and wrapping up do.

Agents' audio legs here are fakes (tests/fakes.py) that answer at once: the desk only waits for
the answer, reads the state and hangs up. Real agent legs are covered by the browser tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from tests.fakes import FakeTransport
from voicebot.compliance.dispositions import Disposition
from voicebot.handoff import Activity, AgentDesk, DeskError, DispositionRecord, HandoffOffer
from voicebot.handoff.presence import Presence
from voicebot.telephony.leg import CallState, Leg

T0 = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
CALLER = "+8613800138000"
AGENT_LINE = "+12025550123"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@contextlib.asynccontextmanager
async def agent_lines() -> AsyncIterator[FakeTransport]:
    transport = FakeTransport()
    try:
        yield transport
    finally:
        await transport.close()


async def answered_leg(transport: FakeTransport) -> Leg:
    leg = await transport.dial(AGENT_LINE, "+12025550100", timeout=5)
    assert await leg.wait_answered()
    return leg


def offer(offer_id: str = "c-1") -> HandoffOffer:
    return HandoffOffer(
        id=offer_id, number=CALLER, flow="upgrade_offer", queue="sales",
        reason="the caller was heard as 'interested'", created_at=T0,
    )  # fmt: skip


async def ringing_at(desk: AgentDesk, agent: str, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while desk.activity(agent)[0] is not Activity.RINGING:
            await asyncio.sleep(0.01)


def desk_with(clock: Clock, *agents: tuple[str, int], ring_seconds: float = 5.0) -> AgentDesk:
    """A desk where each (agent, seconds after T0) went available then."""
    desk = AgentDesk(clock=clock, ring_seconds=ring_seconds)
    for name, after in agents:
        clock.now = T0 + dt.timedelta(seconds=after)
        desk.set_presence(name, Presence.AVAILABLE)
    clock.now = T0 + dt.timedelta(seconds=30)
    return desk


async def test_the_longest_idle_agent_rings_first_and_a_decline_passes_it_on() -> None:
    clock = Clock()
    desk = desk_with(clock, ("newer", 20), ("older", 0))
    asking = asyncio.create_task(desk.request(offer(), timeout=10))
    await ringing_at(desk, "older")
    assert desk.activity("newer")[0] is Activity.IDLE
    assert [o.id for o in await desk.queue.pending()] == ["c-1"]
    with pytest.raises(DeskError) as refused:
        desk.decline("c-1", "newer")  # not ringing there
    assert refused.value.code == "not_yours"
    desk.decline("c-1", "older")
    await ringing_at(desk, "newer")
    assert desk.activity("older")[0] is Activity.IDLE
    asking.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asking
    assert desk.activity("newer")[0] is Activity.IDLE  # the caller left: the ringing stops
    assert await desk.queue.pending() == []


async def test_an_agent_who_lets_it_ring_out_is_set_away_and_the_next_one_rings() -> None:
    clock = Clock()
    desk = desk_with(clock, ("a1", 0), ("a2", 10), ring_seconds=0.3)
    asking = asyncio.create_task(desk.request(offer(), timeout=2))
    await ringing_at(desk, "a1")
    await ringing_at(desk, "a2")
    entry = desk.presence.get("a1")
    assert entry is not None and entry.status is Presence.AWAY
    desk.decline("c-1", "a2")
    assert await asyncio.wait_for(asking, 5) is None  # nobody left to ring: the timeout ends it
    assert desk.activity("a2")[0] is Activity.IDLE


async def test_nobody_available_means_no_agent_after_the_timeout() -> None:
    desk = AgentDesk(clock=Clock())
    started = asyncio.get_running_loop().time()
    assert await desk.request(offer(), timeout=0.5) is None
    assert asyncio.get_running_loop().time() - started >= 0.5
    assert await desk.queue.pending() == []


async def test_an_agent_who_comes_back_gets_the_waiting_call() -> None:
    clock = Clock()
    desk = AgentDesk(clock=clock)
    asking = asyncio.create_task(desk.request(offer(), timeout=10))
    await asyncio.sleep(0.1)
    desk.set_presence("late", Presence.AVAILABLE)
    await ringing_at(desk, "late")
    asking.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asking


async def test_accept_connect_call_wrap_up_and_the_disposition_reaches_the_call_side() -> None:
    clock = Clock()
    desk = desk_with(clock, ("a1", 0), ("a2", 10))
    dispositions: list[DispositionRecord] = []

    async def sink(record: DispositionRecord) -> None:
        dispositions.append(record)

    async with agent_lines() as lines:
        asking = asyncio.create_task(desk.request(offer(), timeout=10, on_disposition=sink))
        await ringing_at(desk, "a1")
        with pytest.raises(DeskError):
            await desk.accept("c-1", "a2", await answered_leg(lines))  # not ringing at a2
        leg = await answered_leg(lines)
        await desk.accept("c-1", "a1", leg)
        call = await asyncio.wait_for(asking, 5)
        assert call is not None and call.agent == "a1" and call.leg is leg
        assert desk.activity("a1") == (Activity.IN_CALL, call.offer)
        assert await desk.queue.pending() == []  # taken: no longer waiting
        with pytest.raises(DeskError) as early:
            await desk.dispose("c-1", "a1", Disposition.SALE)
        assert early.value.code == "still_in_call"

        await desk.hang_up("c-1", "a1")  # the agent ends the call
        assert leg.state is CallState.ENDED
        call.call_ended()  # the bridge went down
        assert desk.activity("a1")[0] is Activity.WRAP_UP
        clock.now += dt.timedelta(seconds=20)  # consoles count as present for 60 s
        record = await desk.dispose("c-1", "a1", Disposition.CALLBACK, "after 6pm")
        assert dispositions == [record]
        assert record.agent == "a1" and record.note == "after 6pm" and record.at == clock.now
        assert desk.activity("a1") == (Activity.IDLE, None)

        # a1 just finished a call: a2 has now been idle longer and rings first.
        second = asyncio.create_task(desk.request(offer("c-2"), timeout=10))
        await ringing_at(desk, "a2")
        second.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await second


async def test_an_agent_leg_that_never_connects_passes_the_call_on() -> None:
    clock = Clock()
    desk = desk_with(clock, ("a1", 0), ("a2", 10))
    desk.connect_seconds = 0.3
    async with agent_lines() as lines:
        leg = await answered_leg(lines)
        await leg.hangup()  # a leg that is already gone never connects
        asking = asyncio.create_task(desk.request(offer(), timeout=10))
        await ringing_at(desk, "a1")
        await desk.accept("c-1", "a1", leg)
        await ringing_at(desk, "a2")
        entry = desk.presence.get("a1")
        assert entry is not None and entry.status is Presence.AWAY
        asking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asking
