"""Calls waiting for a person: the offer an agent is shown, and the queue the console polls.

An offer holds the full number because the call side needs it; only :func:`agent_view` leaves
this module towards an agent, and it carries the number masked, and every other text (summary,
transcript, variables) with any phone number in it masked too.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from voicebot.privacy.masking import mask_number, mask_text


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
    """The flow's variables at the handoff (already redacted)."""
    contact: str | None = None
    """The contact's name, from the campaign's contact list."""
    intent: str | None = None
    """The last intent the bot recognised (e.g. ``interested``)."""
    transcript: tuple[tuple[str, str], ...] = ()
    """(speaker, redacted text) of the call so far, oldest first."""


def agent_view(offer: HandoffOffer) -> dict[str, Any]:
    """The JSON an agent receives for an offer: the number masked, never in full."""
    return {
        "id": offer.id,
        "number": mask_number(offer.number),
        "flow": offer.flow,
        "queue": offer.queue,
        "reason": offer.reason,
        "campaign": offer.campaign,
        "summary": mask_text(offer.summary),
        "context": {k: mask_text(v) for k, v in offer.context.items()},
        "contact": offer.contact,
        "intent": offer.intent,
        "transcript": [{"speaker": s, "text": mask_text(t)} for s, t in offer.transcript],
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
    async def touch(self) -> None:
        """Bump the version without changing the offers (an agent's call changed state)."""

    @abc.abstractmethod
    async def wait_changed(self, since: int, timeout: float) -> int:
        """Return the version once it differs from ``since``, or after ``timeout`` seconds."""


class MemoryHandoffQueue(HandoffQueue):
    """The queue of one process: ``voicebot serve`` runs its campaigns and the console together."""

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

    async def touch(self) -> None:
        await self._bump()

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
