"""A transport that calls simulated people in the same process, over real WebRTC media.

Each :meth:`LoopbackTransport.dial` builds the bot's aiortc peer and a callee's aiortc peer,
exchanges their full SDP in-process (as a SIP gateway would carry it), and lets ICE, DTLS and SRTP
run for real over a loopback address. Who answers, and how, is up to a :class:`Callee` found in a
:class:`CalleeDirectory`: it decides how the phone rings (answer after a while, busy, reject,
never answer) and, once answered, talks through its own :class:`~voicebot.telephony.leg.Leg`.
The personas of :mod:`voicebot.sim.personas` (tests, the demo, benchmarks) plug in here
without any telephone network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from voicebot.privacy.masking import mask_number
from voicebot.telephony.leg import HangupCause, Leg, RunningCalls, Transport
from voicebot.telephony.peerleg import PeerLeg
from voicebot.telephony.rtc import ConnectError, RtcPeer, RtcSettings
from voicebot.telephony.tracks import OutboundTrack

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"\+?[0-9]{3,15}")


class RingAction(StrEnum):
    """What a ringing phone does."""

    ANSWER = "answer"
    BUSY = "busy"
    REJECT = "reject"
    IGNORE = "ignore"
    """Let it ring: the caller's ring timeout gives ``no_answer``."""


@dataclass(frozen=True, slots=True)
class Ring:
    """A callee's reaction to an incoming call, ``after`` seconds of ringing."""

    action: RingAction
    after: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.action, RingAction):
            raise ValueError(f"action {self.action!r}: expected one of {list(RingAction)}")
        if not 0 <= self.after <= 3600:
            raise ValueError(f"after {self.after}: expected 0-3600 seconds")


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """What the callee's phone shows."""

    number: str
    caller_id: str


class Callee(ABC):
    """A simulated person behind a number."""

    @abstractmethod
    def ring(self, call: IncomingCall) -> Ring:
        """Decide how to react to the call."""

    async def talk(self, leg: Leg) -> None:
        """Talk once answered (play audio, press digits, listen); return to hang up.

        The default waits for the caller to hang up. Cancelled if the caller hangs up first.
        """
        await leg.wait_ended()


class CalleeDirectory(Protocol):
    """Finds the simulated person behind a number (None: the number does not exist)."""

    def lookup(self, number: str) -> Callee | None:
        """The callee for ``number``."""
        ...


@dataclass
class StaticDirectory:
    """A directory backed by a dict ``number -> Callee``."""

    callees: dict[str, Callee] = field(default_factory=dict)

    def lookup(self, number: str) -> Callee | None:
        """The callee registered for ``number``."""
        return self.callees.get(number)


class LoopbackTransport(Transport):
    """Dials simulated callees over aiortc-to-aiortc WebRTC on a loopback address.

    Args:
        directory: who answers which number.
        settings: the bot's peer settings (codec, loopback host).
        callee_settings: the callees' peer settings; the bot's if None. A different codec
            reproduces a codec mismatch (the call fails).
    """

    def __init__(
        self,
        directory: CalleeDirectory,
        settings: RtcSettings | None = None,
        callee_settings: RtcSettings | None = None,
    ) -> None:
        self.directory = directory
        self.settings = settings or RtcSettings()
        self.callee_settings = callee_settings or self.settings
        self._calls = RunningCalls()

    async def dial(self, number: str, caller_id: str, timeout: float) -> Leg:
        """Place a call; returns the bot's leg once it rings (or has failed).

        Raises:
            ValueError: ``number`` is not a phone number, or ``timeout`` is not positive.
        """
        if not _NUMBER.fullmatch(number):
            raise ValueError(f"number {mask_number(number)!r}: expected E.164 digits")
        if timeout <= 0:
            raise ValueError(f"timeout {timeout}: expected a ring timeout > 0 seconds")
        track = OutboundTrack()
        leg = PeerLeg(number, RtcPeer(self.settings, track), track)
        try:
            offer = await leg.peer.offer()
        except BaseException:  # e.g. the loopback address cannot be bound
            await leg.end(HangupCause.FAILED)
            raise
        callee = self.directory.lookup(number)
        if callee is None:
            log.info("loopback: no callee at %s", mask_number(number))
            await leg.end(HangupCause.FAILED)
            return leg
        leg.set_ringing()
        call = _Call(self, leg, callee, IncomingCall(number, caller_id), offer, timeout)
        task = self._calls.start(call.run())

        async def cancel() -> None:  # our hang-up, as a SIP CANCEL or BYE
            if task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        leg.set_hangup_signal(cancel)
        return leg

    async def close(self) -> None:
        """Hang up every call still under way."""
        await self._calls.cancel_all()


class _Call:
    """One loopback call: the ringing, the callee's side, and the hang-up in both directions."""

    def __init__(
        self,
        transport: LoopbackTransport,
        bot: PeerLeg,
        callee: Callee,
        incoming: IncomingCall,
        offer: str,
        timeout: float,
    ) -> None:
        self.transport = transport
        self.bot = bot
        self.callee = callee
        self.incoming = incoming
        self.offer = offer
        self.timeout = timeout
        self.far: PeerLeg | None = None

    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:  # the bot hung up, or the transport is closing
            await self.bot.end(HangupCause.LOCAL)  # first: the far end's BYE is not the cause
            await self._end_far(HangupCause.REMOTE)
            raise
        except Exception:
            log.exception("loopback call to %s broke", mask_number(self.incoming.number))
            await self.bot.end(HangupCause.FAILED)
            await self._end_far(HangupCause.FAILED)

    async def _run(self) -> None:
        ring = self.callee.ring(self.incoming)
        if ring.action is not RingAction.ANSWER or ring.after >= self.timeout:
            cause = {
                RingAction.BUSY: HangupCause.BUSY,
                RingAction.REJECT: HangupCause.REJECTED,
            }.get(ring.action)
            if cause is None or ring.after >= self.timeout:
                await asyncio.sleep(self.timeout)
                cause = HangupCause.NO_ANSWER
            else:
                await asyncio.sleep(ring.after)
            await self.bot.end(cause)
            return
        far = await self._connect()
        if far is None:
            return
        await asyncio.sleep(ring.after)
        try:
            async with asyncio.timeout(self.transport.callee_settings.connect_timeout):
                await asyncio.gather(self.bot.peer.connected(), far.peer.connected())
        except (ConnectError, TimeoutError) as exc:
            log.warning("loopback media to %s: %s", mask_number(self.incoming.number), exc)
            await self.bot.end(HangupCause.FAILED)
            await self._end_far(HangupCause.FAILED)
            return
        far.set_answered()
        self.bot.set_answered()
        await self._talk(far)

    async def _connect(self) -> PeerLeg | None:
        """The callee's phone takes the offer; both peers start ICE and DTLS while it rings."""
        track = OutboundTrack()
        far = PeerLeg(
            self.incoming.caller_id, RtcPeer(self.transport.callee_settings, track), track
        )
        self.far = far
        try:
            answer = await far.peer.answer(self.offer)
            await self.bot.peer.accept(answer)
        except ValueError as exc:  # no common codec: the gateway would answer 488
            log.warning("loopback call to %s: %s", mask_number(self.incoming.number), exc)
            await self.bot.end(HangupCause.FAILED)
            await self._end_far(HangupCause.FAILED)
            return None
        far.start_media()
        self.bot.start_media()
        return far

    async def _talk(self, far: PeerLeg) -> None:
        bot = self.bot

        async def far_hangs_up() -> None:  # the callee's BYE reaches the bot at once
            await bot.end(HangupCause.REMOTE)

        far.set_hangup_signal(far_hangs_up)
        talk = asyncio.create_task(self._converse(far))
        ended = [asyncio.create_task(bot.wait_ended()), asyncio.create_task(far.wait_ended())]
        try:
            await asyncio.wait([talk, *ended], return_when=asyncio.FIRST_COMPLETED)
            await asyncio.wait(ended, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (talk, *ended):
                task.cancel()
            for task in (talk, *ended):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._end_far(HangupCause.REMOTE)
        await bot.end(HangupCause.REMOTE)

    async def _converse(self, far: PeerLeg) -> None:
        try:
            await self.callee.talk(far)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("simulated callee at %s failed", mask_number(self.incoming.number))
        await far.hangup()

    async def _end_far(self, cause: HangupCause) -> None:
        if self.far is not None:
            await self.far.end(cause)
