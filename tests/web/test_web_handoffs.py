"""The handoff queue the call side feeds and the presence board it reads."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from voicebot.handoff import (
    HandoffOffer,
    MemoryHandoffQueue,
    Presence,
    PresenceBoard,
    agent_view,
)

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def _offer(offer_id: str, minutes: int = 0) -> HandoffOffer:
    return HandoffOffer(
        id=offer_id, number="+8613800138000", flow="marketing_offer", queue="sales",
        reason="asked for a person", created_at=T0 + dt.timedelta(minutes=minutes),
    )  # fmt: skip


async def test_a_waiting_poller_wakes_on_a_new_offer() -> None:
    queue = MemoryHandoffQueue()
    waiter = asyncio.create_task(queue.wait_changed(queue.version, timeout=10))
    await asyncio.sleep(0)
    await queue.offer(_offer("b", minutes=1))
    assert await waiter == 1
    await queue.offer(_offer("a"))
    assert [o.id for o in await queue.pending()] == ["a", "b"]  # oldest first
    with pytest.raises(ValueError, match="already queued"):
        await queue.offer(_offer("a"))
    assert (await queue.withdraw("a")) is not None and await queue.withdraw("a") is None
    assert queue.version == 3
    assert await queue.wait_changed(3, timeout=0.01) == 3  # nothing new: returns on timeout


def test_agent_view_masks_the_number() -> None:
    view = agent_view(_offer("a"))
    assert view["number"] == "+86 138****8000"
    assert "13800138000" not in str(view)


def test_presence_lists_available_agents_longest_waiting_first() -> None:
    board = PresenceBoard()
    board.set("bo", Presence.AVAILABLE, T0 + dt.timedelta(minutes=5))
    board.set("al", Presence.AVAILABLE, T0)
    board.set("cy", Presence.AWAY, T0)
    board.seen("bo", T0 + dt.timedelta(minutes=6))
    again = board.set("al", Presence.AVAILABLE, T0 + dt.timedelta(minutes=6))
    assert again.since == T0  # same status keeps its start
    assert board.available(T0 + dt.timedelta(minutes=6)) == ["al", "bo"]
    assert board.get("nobody") is None


def test_an_agent_whose_console_went_quiet_is_not_offered_calls() -> None:
    board = PresenceBoard(stale_after=dt.timedelta(seconds=60))
    board.set("al", Presence.AVAILABLE, T0)
    assert board.available(T0 + dt.timedelta(seconds=60)) == ["al"]
    assert board.available(T0 + dt.timedelta(seconds=61)) == []
    board.seen("al", T0 + dt.timedelta(seconds=61))
    assert board.available(T0 + dt.timedelta(seconds=61)) == ["al"]
