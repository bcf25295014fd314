"""The agent desk: gives each waiting call to the longest-idle available agent, and follows the
agent through ringing, the call and the wrap-up.

A call asks :meth:`AgentDesk.request` for an agent and waits (the caller hears hold audio). The
desk rings one agent at a time, longest idle first; an agent who declines is skipped for that
call, an agent who lets it ring out is set ``away`` (their console is not being watched). The
agent accepts with their browser's audio leg; once it connects, the request returns an
:class:`AgentCall` and the call side bridges the caller to it. When the call ends the agent wraps
up with a disposition, which goes to the ``on_disposition`` the call side gave, and the agent is
free again, idle from then on.

Calls and consoles meet here in one process (``voicebot serve`` runs the campaigns it serves).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from voicebot.compliance.dispositions import Disposition
from voicebot.handoff.presence import Presence, PresenceBoard
from voicebot.handoff.queue import HandoffOffer, HandoffQueue, MemoryHandoffQueue
from voicebot.privacy.masking import mask_number
from voicebot.telephony.leg import CallState, Leg

log = logging.getLogger(__name__)

RING_SECONDS = 20.0
"""How long one agent's console rings before the call goes to the next agent."""
CONNECT_SECONDS = 15.0
"""How long an accepting agent's audio may take to connect."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Activity(enum.StrEnum):
    """What an agent is doing right now."""

    IDLE = "idle"
    RINGING = "ringing"
    CONNECTING = "connecting"
    IN_CALL = "in_call"
    WRAP_UP = "wrap_up"


class DeskError(Exception):
    """An agent action the desk refuses: the ``code`` says why (for the API's answer)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DispositionRecord:
    """How the agent closed a call: passed to the call side's ``on_disposition``."""

    disposition: Disposition
    agent: str
    at: dt.datetime
    note: str = ""
    callback_at: dt.datetime | None = None


DispositionSink = Callable[[DispositionRecord], Awaitable[None]]


@dataclass
class AgentCall:
    """A caller handed to an agent: the agent's audio leg, and the end of the call."""

    offer: HandoffOffer
    agent: str
    leg: Leg
    _desk: AgentDesk = field(repr=False)

    def call_ended(self) -> None:
        """The bridge is down (either side hung up): the agent moves on to the wrap-up."""
        self._desk._call_ended(self)


@dataclass
class _Ticket:
    offer: HandoffOffer
    on_disposition: DispositionSink | None
    answer: asyncio.Future[AgentCall | None]
    skipped: set[str] = field(default_factory=set)
    ringing: str | None = None
    decided: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _AgentState:
    activity: Activity = Activity.IDLE
    ticket: _Ticket | None = None
    call: AgentCall | None = None
    idle_since: dt.datetime | None = None


class AgentDesk:
    """Routes calls to agents and tracks each agent's activity. One per process."""

    def __init__(
        self,
        queue: HandoffQueue | None = None,
        presence: PresenceBoard | None = None,
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
        ring_seconds: float = RING_SECONDS,
        connect_seconds: float = CONNECT_SECONDS,
    ) -> None:
        self.queue = queue or MemoryHandoffQueue()
        self.presence = presence or PresenceBoard()
        self.clock = clock
        self.ring_seconds = ring_seconds
        self.connect_seconds = connect_seconds
        self._agents: dict[str, _AgentState] = {}
        self._tickets: dict[str, _Ticket] = {}
        self._changed = asyncio.Event()

    # ---- the call side ---------------------------------------------------------------------

    async def request(
        self,
        offer: HandoffOffer,
        timeout: float,
        on_disposition: DispositionSink | None = None,
    ) -> AgentCall | None:
        """Queue ``offer`` and wait up to ``timeout`` s for an agent whose audio is connected.

        Returns None when nobody accepted in time. Cancelling (the caller hung up) withdraws the
        offer and frees the ringing agent.
        """
        loop = asyncio.get_running_loop()
        ticket = _Ticket(offer, on_disposition, loop.create_future())
        self._tickets[offer.id] = ticket
        await self.queue.offer(offer)
        log.info("handoff %s queued for %s", offer.id, mask_number(offer.number))
        dispatch = asyncio.create_task(self._dispatch(ticket))
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(ticket.answer)
        except TimeoutError:
            log.info("handoff %s: no agent within %.0f s", offer.id, timeout)
            return None
        finally:
            dispatch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatch
            await self._close_ticket(ticket)

    async def _dispatch(self, ticket: _Ticket) -> None:
        """Ring the longest-idle free agent, then the next, until one accepts."""
        while not ticket.answer.done():
            agent = self._next_agent(ticket)
            if agent is None:  # wait for an agent (presence goes stale with time: look again)
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 1.0)
                continue
            await self._ring(ticket, agent)

    async def _ring(self, ticket: _Ticket, agent: str) -> None:
        state = self._state(agent)
        state.activity, state.ticket = Activity.RINGING, ticket
        ticket.ringing = agent
        ticket.decided.clear()
        await self.queue.touch()
        try:
            async with asyncio.timeout(self.ring_seconds):
                await ticket.decided.wait()
        except TimeoutError:
            if ticket.ringing == agent and state.activity is Activity.RINGING:
                log.info("handoff %s rang out at agent %s: set away", ticket.offer.id, agent)
                ticket.skipped.add(agent)
                self._free(agent)
                self.presence.set(agent, Presence.AWAY, self.clock())
                await self.queue.touch()

    def _next_agent(self, ticket: _Ticket) -> str | None:
        now = self.clock()
        free = [
            a
            for a in self.presence.available(now)
            if a not in ticket.skipped and self._state(a).activity is Activity.IDLE
        ]
        if not free:
            return None

        def idle_since(agent: str) -> dt.datetime:
            entry = self.presence.get(agent)
            since = entry.since if entry is not None else now
            last = self._state(agent).idle_since
            return max(since, last) if last is not None else since

        return min(free, key=idle_since)

    async def _close_ticket(self, ticket: _Ticket) -> None:
        self._tickets.pop(ticket.offer.id, None)
        await self.queue.withdraw(ticket.offer.id)
        agent = ticket.ringing
        if agent is not None:
            state = self._state(agent)
            if state.ticket is ticket and state.activity in (Activity.RINGING, Activity.CONNECTING):
                call = state.call
                self._free(agent)
                if call is not None:
                    await call.leg.hangup()
        if not ticket.answer.done():
            ticket.answer.set_result(None)
        await self.queue.touch()

    def _call_ended(self, call: AgentCall) -> None:
        state = self._state(call.agent)
        if state.call is call and state.activity is Activity.IN_CALL:
            state.activity = Activity.WRAP_UP
            self._poke()

    # ---- the agent side --------------------------------------------------------------------

    def set_presence(self, agent: str, status: Presence) -> None:
        """The agent goes available or away (from their console)."""
        self.presence.set(agent, status, self.clock())
        self._poke()

    def activity(self, agent: str) -> tuple[Activity, HandoffOffer | None]:
        """What ``agent`` is doing, and the call it concerns (ringing, connecting, in call,
        wrap-up)."""
        state = self._state(agent)
        offer = state.call.offer if state.call else state.ticket.offer if state.ticket else None
        return state.activity, offer

    def decline(self, offer_id: str, agent: str) -> None:
        """The ringing agent declines: the call goes to the next agent.

        Raises:
            DeskError: the call is not ringing at this agent.
        """
        ticket = self._ringing_ticket(offer_id, agent)
        ticket.skipped.add(agent)
        self._free(agent)
        ticket.decided.set()
        self._poke()

    async def accept(self, offer_id: str, agent: str, leg: Leg) -> None:
        """The ringing agent accepts with their audio ``leg``; the caller is handed over once
        the leg connects (if it does not within the connect time, the call rings on).

        Raises:
            DeskError: the call is not ringing at this agent (gone, or given to another).
        """
        ticket = self._ringing_ticket(offer_id, agent)
        state = self._state(agent)
        call = AgentCall(ticket.offer, agent, leg, self)
        state.activity, state.call = Activity.CONNECTING, call
        ticket.decided.set()
        asyncio.get_running_loop().create_task(self._connect(ticket, call))
        await self.queue.touch()

    async def _connect(self, ticket: _Ticket, call: AgentCall) -> None:
        state = self._state(call.agent)
        try:
            async with asyncio.timeout(self.connect_seconds):
                connected = await call.leg.wait_answered()
        except TimeoutError:
            connected = False
        if state.call is not call:  # the caller gave up meanwhile
            return
        connected = connected and call.leg.state is CallState.ANSWERED
        if connected and not ticket.answer.done():
            state.activity = Activity.IN_CALL
            ticket.answer.set_result(call)
            await self.queue.touch()
            return
        log.warning("handoff %s: agent %s's audio did not connect", ticket.offer.id, call.agent)
        await call.leg.hangup()
        ticket.skipped.add(call.agent)
        self._free(call.agent)
        self.presence.set(call.agent, Presence.AWAY, self.clock())
        ticket.decided.set()
        self._poke()
        await self.queue.touch()

    async def hang_up(self, offer_id: str, agent: str) -> None:
        """The agent ends the call (the caller is hung up by the call side's bridge).

        Raises:
            DeskError: the agent is not on that call.
        """
        state = self._state(agent)
        if state.call is None or state.call.offer.id != offer_id:
            raise DeskError("not_in_call", "you are not on that call")
        if state.activity is Activity.IN_CALL:
            await state.call.leg.hangup()
            state.activity = Activity.WRAP_UP
            await self.queue.touch()

    async def dispose(
        self,
        offer_id: str,
        agent: str,
        disposition: Disposition,
        note: str = "",
        callback_at: dt.datetime | None = None,
    ) -> DispositionRecord:
        """Close the agent's call with ``disposition``: it goes to the call side (compliance
        rules); then the agent is free, idle from now.

        Raises:
            DeskError: the agent has no such call to wrap up.
        """
        state = self._state(agent)
        call = state.call
        if call is None or call.offer.id != offer_id:
            raise DeskError("not_in_call", "you have no such call to wrap up")
        if state.activity is Activity.IN_CALL and call.leg.state is not CallState.ENDED:
            raise DeskError("still_in_call", "hang up before the wrap-up")
        ticket_sink = state.ticket.on_disposition if state.ticket else None
        record = DispositionRecord(disposition, agent, self.clock(), note, callback_at)
        if ticket_sink is not None:
            await ticket_sink(record)
        self._free(agent)
        state.idle_since = record.at
        self._poke()
        await self.queue.touch()
        return record

    # ---- bookkeeping -----------------------------------------------------------------------

    def _ringing_ticket(self, offer_id: str, agent: str) -> _Ticket:
        ticket = self._tickets.get(offer_id)
        if ticket is None:
            raise DeskError("gone", "that call is no longer waiting")
        if ticket.ringing != agent or self._state(agent).activity is not Activity.RINGING:
            raise DeskError("not_yours", "that call is not ringing at your console")
        return ticket

    def _state(self, agent: str) -> _AgentState:
        return self._agents.setdefault(agent, _AgentState())

    def _free(self, agent: str) -> None:
        state = self._state(agent)
        state.activity, state.call = Activity.IDLE, None
        state.ticket = None
        self._poke()

    def _poke(self) -> None:
        self._changed.set()
