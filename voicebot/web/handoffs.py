"""What the console shows agents: a queue of calls waiting for a person, and who is available.

This is the seam between the call side and the web side. The call side (a later module that
bridges a caller to an agent) puts a :class:`HandoffOffer` on the :class:`HandoffQueue` found at
``app[HANDOFF_QUEUE]`` and withdraws it when the caller hangs up or an agent takes it; it asks the
:class:`PresenceBoard` who is available. The console long-polls the queue's version. An offer
holds the full number because the call side needs it; only :func:`agent_view` leaves this module
towards an agent, and it carries the masked number alone.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import datetime as dt
import enum
from dataclasses import dataclass, field, replace
from typing import Any

from voicebot.privacy.masking import mask_number


@dataclass(frozen=True)
class HandoffOffer:
    """A call waiting for an agent. ``summary`` must already be redacted by the call side."""

    id: str
    number: str
    flow: str
    queue: str
    reason: str
    created_at: dt.datetime
    campaign: str | None = None
    summary: str = ""
    context: dict[str, str] = field(default_factory=dict)


def agent_view(offer: HandoffOffer) -> dict[str, Any]:
    """The JSON an agent receives for an offer: the number masked, never in full."""
    return {
        "id": offer.id,
        "number": mask_number(offer.number),
        "flow": offer.flow,
        "queue": offer.queue,
        "reason": offer.reason,
        "campaign": offer.campaign,
        "summary": offer.summary,
        "context": dict(offer.context),
        "created_at": offer.created_at.isoformat(),
    }


class HandoffQueue(abc.ABC):
    """Calls waiting for an agent; every change bumps :attr:`version` so pollers can wait on it."""

    @property
    @abc.abstractmethod
    def version(self) -> int:
        """Increases on every offer or withdrawal."""

    @abc.abstractmethod
    async def offer(self, offer: HandoffOffer) -> None:
        """Put a call in the queue (the call side calls this)."""

    @abc.abstractmethod
    async def withdraw(self, offer_id: str) -> HandoffOffer | None:
        """Take a call out (answered elsewhere, or the caller hung up); ``None`` if absent."""

    @abc.abstractmethod
    async def pending(self) -> list[HandoffOffer]:
        """Waiting calls, oldest first."""

    @abc.abstractmethod
    async def get(self, offer_id: str) -> HandoffOffer | None:
        """One waiting call by id."""

    @abc.abstractmethod
    async def wait_changed(self, since: int, timeout: float) -> int:
        """Return the version once it differs from ``since``, or after ``timeout`` seconds."""


class MemoryHandoffQueue(HandoffQueue):
    """The queue of a single ``voicebot serve`` process (calls and console in one process)."""

    def __init__(self) -> None:
        self._offers: dict[str, HandoffOffer] = {}
        self._version = 0
        self._changed = asyncio.Condition()

    @property
    def version(self) -> int:
        return self._version

    async def offer(self, offer: HandoffOffer) -> None:
        if offer.id in self._offers:
            raise ValueError(f"handoff {offer.id!r} is already queued")
        self._offers[offer.id] = offer
        await self._bump()

    async def withdraw(self, offer_id: str) -> HandoffOffer | None:
        offer = self._offers.pop(offer_id, None)
        if offer is not None:
            await self._bump()
        return offer

    async def pending(self) -> list[HandoffOffer]:
        return sorted(self._offers.values(), key=lambda o: o.created_at)

    async def get(self, offer_id: str) -> HandoffOffer | None:
        return self._offers.get(offer_id)

    async def wait_changed(self, since: int, timeout: float) -> int:
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._changed.wait_for(lambda: self._version != since)
        return self._version

    async def _bump(self) -> None:
        async with self._changed:
            self._version += 1
            self._changed.notify_all()


class Presence(enum.StrEnum):
    """An agent's availability for new handoffs."""

    AVAILABLE = "available"
    AWAY = "away"


STALE_AFTER = dt.timedelta(seconds=60)  # the console polls at least every ~20 s


@dataclass(frozen=True)
class PresenceEntry:
    """An agent's status, when it was set, and when their console was last heard from."""

    status: Presence
    since: dt.datetime
    seen: dt.datetime


class PresenceBoard:
    """Who is available. Agents start ``away``; the console sets ``available`` explicitly.

    An available agent whose console has not polled for :data:`STALE_AFTER` (tab closed, network
    gone) is not offered calls: :meth:`available` leaves them out.
    """

    def __init__(self, stale_after: dt.timedelta = STALE_AFTER) -> None:
        self._entries: dict[str, PresenceEntry] = {}
        self._stale_after = stale_after

    def get(self, agent: str) -> PresenceEntry | None:
        """The agent's entry, or ``None`` if they never set one (counts as away)."""
        return self._entries.get(agent)

    def set(self, agent: str, status: Presence, at: dt.datetime) -> PresenceEntry:
        """Record a status change (same status keeps its original ``since``)."""
        current = self._entries.get(agent)
        since = current.since if current is not None and current.status == status else at
        entry = PresenceEntry(status, since, at)
        self._entries[agent] = entry
        return entry

    def seen(self, agent: str, at: dt.datetime) -> None:
        """The agent's console polled: they are still there."""
        current = self._entries.get(agent)
        if current is not None:
            self._entries[agent] = replace(current, seen=max(current.seen, at))

    def available(self, at: dt.datetime) -> list[str]:
        """Agents who can take a handoff at ``at``, longest-waiting first."""
        ready = [
            (e.since, a)
            for a, e in self._entries.items()
            if e.status is Presence.AVAILABLE and at - e.seen <= self._stale_after
        ]
        return [agent for _, agent in sorted(ready)]
