"""Warm transfer from the call's side: what it asks of an agent desk, the hold audio the caller
hears meanwhile, the whisper to the agent, and the bridge that joins the caller to the agent
once the bot steps aside (:class:`CallTransfer`).

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
from voicebot.call.ears import CallerEars
from voicebot.call.prompt_audio import PromptAudio
from voicebot.call.voice import CallVoice, read_as_opt_out
from voicebot.eventlog import CallEvent, EventLog
from voicebot.flow.events import Hangup
from voicebot.flow.host import HandoffContext
from voicebot.flow.model import Handoff
from voicebot.telephony.leg import CallState, Leg, LegStateError

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


class CallTransfer:
    """Hands one call to an agent: asks the desk, holds the caller meanwhile (an opt-out or a
    hangup on hold ends the wait), whispers to the agent, then bridges the two.

    Args:
        leg: the caller's line.
        ears: what the caller does while on hold.
        voice: plays the hold audio; keeps an opt-out heard on hold for the flow.
        audio: the hold and whisper prompts.
        log: the call's event log.
        hook: finds an agent; None when no agent console is connected.
        locale: the flow's locale.
    """

    def __init__(
        self,
        leg: Leg,
        ears: CallerEars,
        voice: CallVoice,
        audio: PromptAudio,
        log: EventLog,
        hook: HandoffHook | None,
        locale: str,
    ) -> None:
        self._leg = leg
        self._ears = ears
        self._voice = voice
        self._audio = audio
        self._log = log
        self._hook = hook
        self._locale = locale
        self.bridge: asyncio.Task[None] | None = None
        """The caller and the agent joined; it ends when either hangs up."""

    async def handoff(self, handoff: Handoff, context: HandoffContext, intent: str | None) -> bool:
        """Wait for an agent with hold audio; once one is connected, whisper to them and
        bridge the caller. False when nobody accepted, the caller opted out or hung up."""
        if self._hook is None:
            self._log.add(
                CallEvent.HANDOFF,
                queue=handoff.queue,
                accepted=False,
                reason="no agent console connected",
            )
            return False
        asking = asyncio.create_task(self._hook(TransferAsk(handoff, context, intent)))
        holding = asyncio.create_task(self._hold(handoff, context))
        try:
            agent = await self._wait_for_agent(asking)
        finally:
            holding.cancel()
            self._leg.interrupt()
            with contextlib.suppress(asyncio.CancelledError, LegStateError):
                await holding
        if agent is None:
            self._log.add(CallEvent.HANDOFF, queue=handoff.queue, accepted=False)
            return False
        self._log.add(CallEvent.HANDOFF, queue=handoff.queue, accepted=True, agent=agent.agent)
        if handoff.whisper is not None and context.whisper:
            pcm = await self._audio.get(handoff.whisper, context.whisper)
            with contextlib.suppress(Exception):  # the agent hung up during the whisper
                await agent.leg.play(pcm, interruptible=False)
        self._ears.step_aside()
        self.bridge = asyncio.create_task(bridge(self._leg, agent, self._voice.record_agent))
        return True

    async def _wait_for_agent(
        self, asking: asyncio.Task[ConnectedAgent | None]
    ) -> ConnectedAgent | None:
        """The desk's answer, unless the caller opts out or hangs up first (then the request
        is cancelled and the event kept for the flow)."""
        while not asking.done():
            heard = asyncio.create_task(self._ears.events.get())
            await asyncio.wait({asking, heard}, return_when=asyncio.FIRST_COMPLETED)
            if not heard.done():
                heard.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heard
                continue
            event = heard.result()
            opt_out = read_as_opt_out(event, self._locale)
            if isinstance(event, Hangup) or opt_out is not None:
                asking.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asking
                if opt_out is not None:
                    self._voice.hold_for_next_listen(opt_out)
                return None
            self._log.add(CallEvent.ACTION, action="ignored", detail=f"{event} while on hold")
        return asking.result()

    async def _hold(self, handoff: Handoff, context: HandoffContext) -> None:
        """Hold audio until cancelled: chimes, and the hold prompt again every round."""
        music = hold_music()
        while self._leg.state is CallState.ANSWERED:
            await self._voice.play(music)
            if handoff.hold is not None and context.hold:
                await self._voice.play(await self._audio.get(handoff.hold, context.hold))
