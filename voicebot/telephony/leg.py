"""What the rest of the engine sees of a phone call: a :class:`Leg` placed by a :class:`Transport`.

A leg is one party on a call, whatever carries it (loopback simulator, Janus SIP gateway, a
browser). The call session drives it: waits for the answer, reads inbound audio and digits, plays
prompts (barge-in stops them), hangs up, or bridges it to an agent's leg for a warm transfer.
Hang-up causes map onto the engine's one outcome vocabulary (:class:`voicebot.outcomes.Outcome`).
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from enum import StrEnum

from voicebot.audio import Pcm
from voicebot.outcomes import Outcome
from voicebot.telephony.tracks import PlayResult


class CallState(StrEnum):
    """Where a call is; it only moves forward."""

    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


class HangupCause(StrEnum):
    """Why a leg ended."""

    LOCAL = "local"
    """We hung up (the flow ended, or the bot cancelled a ringing call)."""
    REMOTE = "remote"
    """The other party hung up after answering (BYE, RTCP BYE, or the media stopped)."""
    BUSY = "busy"
    """The line was busy (SIP 486)."""
    NO_ANSWER = "no_answer"
    """Rang until the ring timeout."""
    REJECTED = "rejected"
    """The callee declined the ringing call (SIP 603)."""
    FAILED = "failed"
    """Unknown number, codec mismatch, ICE/DTLS failure, or the gateway broke."""


_CAUSE_OUTCOMES: dict[HangupCause, Outcome] = {
    HangupCause.REMOTE: Outcome.HUNG_UP,
    HangupCause.BUSY: Outcome.BUSY,
    HangupCause.NO_ANSWER: Outcome.NO_ANSWER,
    HangupCause.REJECTED: Outcome.REJECTED,
    HangupCause.FAILED: Outcome.FAILED,
}


def outcome_for(cause: HangupCause) -> Outcome | None:
    """The call outcome a hang-up cause implies on its own.

    ``LOCAL`` gives None: the bot hung up on purpose, so the flow already knows the outcome.
    ``REMOTE`` gives ``hung_up``, which the session replaces if the flow had already ended.
    """
    return _CAUSE_OUTCOMES.get(cause)


@dataclass(frozen=True, slots=True)
class DtmfEvent:
    """A digit the far end pressed.

    Attributes:
        digit: ``0``-``9``, ``*`` or ``#``.
        source: how it arrived: ``rfc4733``, ``sip_info`` or ``inband``.
    """

    digit: str
    source: str

    def __post_init__(self) -> None:
        if len(self.digit) != 1 or self.digit not in "0123456789*#":
            raise ValueError(f"digit {self.digit!r}: expected one of 0-9, * or #")


class LegStateError(Exception):
    """An operation that the call's state does not allow (e.g. playing before the answer)."""


class Leg(ABC):
    """One party on a call. States move DIALING → RINGING → ANSWERED → ENDED (or end early).

    ``audio()`` and ``dtmf()`` may be iterated by several consumers at once (recognizer,
    recorder, bridge): each gets every item from the moment it starts iterating. Both end when
    the leg ends.
    """

    number: str
    """The far end's number (E.164); mask it before logging."""

    @property
    @abstractmethod
    def state(self) -> CallState:
        """The current state."""

    @property
    @abstractmethod
    def cause(self) -> HangupCause | None:
        """Why the leg ended; None while it has not."""

    @abstractmethod
    async def wait_answered(self) -> bool:
        """Wait for the end of ringing: True if answered, False if the leg ended instead."""

    @abstractmethod
    async def wait_ended(self) -> HangupCause:
        """Wait until the leg has ended and every resource of it is released."""

    @abstractmethod
    def audio(self) -> AsyncIterator[Pcm]:
        """Inbound 20 ms frames (8 kHz int16), from the answer on."""

    @abstractmethod
    def dtmf(self) -> AsyncIterator[DtmfEvent]:
        """Digits the far end pressed (out-of-band ones; in-band detection is the session's)."""

    @abstractmethod
    async def play(self, pcm: Pcm, interruptible: bool = True) -> PlayResult:
        """Play ``pcm`` to the far end and wait until it has played or was cut.

        Raises:
            LegStateError: the leg is not answered (no bot audio before the answer).
        """

    @abstractmethod
    def interrupt(self) -> None:
        """Barge-in: stop interruptible playback at once."""

    @abstractmethod
    def feed(self, frame: Pcm) -> None:
        """Send one live 20 ms frame (a bridged party's voice); dropped unless answered."""

    @abstractmethod
    async def send_dtmf(self, digits: str) -> None:
        """Send digits to the far end.

        Raises:
            LegStateError: not answered, or no out-of-band DTMF was negotiated.
            ValueError: a character is not a DTMF digit.
        """

    @abstractmethod
    async def hangup(self) -> None:
        """End the call from our side (cancels it while ringing); idempotent."""

    async def bridge(self, other: Leg) -> None:
        """Relay audio both ways between this leg and ``other`` until either ends.

        Used for warm transfer: the bot bridges the callee and the agent. Cancel the awaiting
        task to unbridge; neither leg is hung up by the bridge itself.

        Raises:
            LegStateError: either leg is not answered.
        """
        for leg in (self, other):
            if leg.state is not CallState.ANSWERED:
                raise LegStateError(f"cannot bridge a leg that is {leg.state}")
        relays = [
            asyncio.create_task(_relay(self, other)),
            asyncio.create_task(_relay(other, self)),
        ]
        try:
            await asyncio.wait(relays, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in relays:
                task.cancel()
            for task in relays:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def _relay(source: Leg, sink: Leg) -> None:
    async for frame in source.audio():
        sink.feed(frame)


class Transport(ABC):
    """Places outbound calls."""

    @abstractmethod
    async def dial(self, number: str, caller_id: str, timeout: float) -> Leg:
        """Start a call to ``number``; returns once it rings (or has already failed).

        ``timeout`` is the ring timeout in seconds: unanswered by then, the leg ends with
        ``NO_ANSWER``.
        """

    async def close(self) -> None:  # noqa: B027 - optional hook, most transports hold nothing
        """Release what the transport holds (gateway sessions); legs must have ended."""


class RunningCalls:
    """The tasks of a transport's calls under way: each forgotten once done, all hung up (cancelled
    and awaited) when the transport closes."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(
        self, call: Coroutine[object, object, None], name: str | None = None
    ) -> asyncio.Task[None]:
        """Run ``call`` as a task of its own and keep it until it is done."""
        task = asyncio.create_task(call, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def cancel_all(self) -> None:
        """Cancel every call still running and wait until each has ended."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
