"""Warm transfer from the call's side: what it asks of an agent desk, the hold audio the caller
hears meanwhile, and the bridge that joins the caller to the agent once the bot steps aside.

The call does not know how agents are found (that is :mod:`voicebot.handoff`); it asks a
:data:`HandoffHook` and gets back a :class:`ConnectedAgent` (an agent whose audio is live) or
None. While bridged, the bot's ears only record: no prompts, no recognition, and the agent's
voice is recorded on the bot's track, so the recording continues through the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from voicebot.audio import SAMPLE_RATE, Pcm
from voicebot.flow.host import HandoffContext
from voicebot.flow.model import Handoff
from voicebot.telephony.leg import CallState, Leg

HOLD_NOTES_HZ = (523.25, 659.25, 783.99, 659.25)
"""A soft C-major arpeggio: hold audio that is clearly "you are waiting", not silence."""


@dataclass(frozen=True)
class TransferAsk:
    """What the call tells the desk about itself when it asks for an agent."""

    handoff: Handoff
    context: HandoffContext
    intent: str | None
    """The last intent the bot heard (what made the caller a lead)."""


class ConnectedAgent(Protocol):
    """An agent who accepted the call and whose audio is connected."""

    @property
    def agent(self) -> str:
        """The agent's user name."""
        ...

    @property
    def leg(self) -> Leg:
        """The agent's audio (their browser)."""
        ...

    def call_ended(self) -> None:
        """Told once the bridge is down, so the agent moves on to the wrap-up."""
        ...


HandoffHook = Callable[[TransferAsk], Coroutine[Any, Any, ConnectedAgent | None]]
"""Find an agent for the call within ``ask.handoff.timeout``; None when nobody accepted."""


def hold_music(seconds: float = 8.0, level: float = 0.08) -> Pcm:
    """Quiet chimes with pauses: half a second per note, then a rest, repeated."""
    note_samples = SAMPLE_RATE // 2
    t = np.arange(note_samples) / SAMPLE_RATE
    envelope = np.exp(-4.0 * t)
    notes = [np.sin(2 * np.pi * f * t) * envelope for f in HOLD_NOTES_HZ]
    phrase = np.concatenate([*notes, np.zeros(SAMPLE_RATE)])
    repeats = int(np.ceil(seconds * SAMPLE_RATE / len(phrase)))
    audio = np.tile(phrase, repeats)[: int(seconds * SAMPLE_RATE)]
    return (audio * level * 32767).astype(np.int16)


async def bridge(
    caller: Leg,
    agent: ConnectedAgent,
    agent_heard: Callable[[Pcm], None],
) -> None:
    """Join the caller and the agent until either hangs up, then hang up the other side.

    ``agent_heard`` gets each frame of the agent's voice on its way to the caller (the
    recording's bot track).
    """

    async def agent_to_caller() -> None:
        async for frame in agent.leg.audio():
            agent_heard(frame)
            caller.feed(frame)

    async def caller_to_agent() -> None:
        async for frame in caller.audio():
            agent.leg.feed(frame)

    relays = [asyncio.create_task(agent_to_caller()), asyncio.create_task(caller_to_agent())]
    ends = [asyncio.create_task(caller.wait_ended()), asyncio.create_task(agent.leg.wait_ended())]
    try:
        await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (*relays, *ends):
            task.cancel()
        for task in (*relays, *ends):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for leg in (caller, agent.leg):
            if leg.state is not CallState.ENDED:
                await leg.hangup()
        agent.call_ended()
