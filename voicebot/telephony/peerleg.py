"""A :class:`~voicebot.telephony.leg.Leg` carried by one aiortc peer: the media half of a call.

Every transport that speaks WebRTC (loopback, Janus, browser) shares this class and adds only its
signalling: it drives the state (``set_ringing``, ``set_answered``, ``end``) and, through
``signal_hangup``, learns when our side hangs up. Everything media lives here: the paced outbound
track (closed until the answer), the inbound reader with its fan-out to several consumers,
RFC 4733 digits both ways, and the clean-up that leaves no task or socket behind.

A hang-up from the far end is noticed three ways, whichever comes first: the transport's signal
(SIP BYE, Janus ``hangup``, the loopback's in-process call), the inbound track ending (RTCP BYE or
DTLS close) and the connection state turning ``failed``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

from voicebot.audio import Pcm
from voicebot.telephony import rfc4733
from voicebot.telephony.leg import CallState, DtmfEvent, HangupCause, Leg, LegStateError
from voicebot.telephony.rtc import RtcPeer
from voicebot.telephony.tracks import InboundReader, OutboundTrack, PlayResult, dtmf_tones

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_QUEUE_FRAMES = 100
"""Inbound frames (2 s) buffered per consumer before the oldest are dropped."""


class _FanOut(Generic[_T]):
    """Hands every item to each current subscriber; a slow one loses its oldest items."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._queues: list[asyncio.Queue[_T | None]] = []
        self._closed = False

    def publish(self, item: _T) -> None:
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(item)

    def close(self) -> None:
        self._closed = True
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    async def subscribe(self) -> AsyncIterator[_T]:
        if self._closed:
            return
        queue: asyncio.Queue[_T | None] = asyncio.Queue(self._maxsize)
        self._queues.append(queue)
        try:
            while (item := await queue.get()) is not None:
                yield item
        finally:
            self._queues.remove(queue)


class PeerLeg(Leg):
    """One party reached through an :class:`~voicebot.telephony.rtc.RtcPeer`.

    Args:
        number: the far end's number.
        peer: the peer, with ``track`` as its outgoing track; the leg closes it when it ends.
        track: the outgoing track.
        signal_hangup: called once when our side hangs up, to tell the far end.
    """

    def __init__(
        self,
        number: str,
        peer: RtcPeer,
        track: OutboundTrack,
        signal_hangup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.number = number
        self.peer = peer
        self._track = track
        self._signal_hangup = signal_hangup
        self._state = CallState.DIALING
        self._cause: HangupCause | None = None
        self._ring_over = asyncio.Event()
        self._was_answered = False
        self._audio: _FanOut[Pcm] = _FanOut(_QUEUE_FRAMES)
        self._dtmf: _FanOut[DtmfEvent] = _FanOut(_QUEUE_FRAMES)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing: asyncio.Task[None] | None = None
        self._end_started = asyncio.Event()
        self._event_pt: int | None = None
        self._event_sender: rfc4733.EventSender | None = None
        self.answered_at: float | None = None
        """Wall-clock time of the answer (for talk time)."""
        self.ended_at: float | None = None
        peer.pc.on("connectionstatechange", self._on_connection_state)

    # --- Leg ---------------------------------------------------------------------------------

    @property
    def state(self) -> CallState:
        return self._state

    @property
    def cause(self) -> HangupCause | None:
        return self._cause

    async def wait_answered(self) -> bool:
        await self._ring_over.wait()
        return self._was_answered

    async def wait_ended(self) -> HangupCause:
        await self._end_started.wait()
        assert self._closing is not None
        await asyncio.shield(self._closing)
        assert self._cause is not None
        return self._cause

    def audio(self) -> AsyncIterator[Pcm]:
        return self._audio.subscribe()

    def dtmf(self) -> AsyncIterator[DtmfEvent]:
        return self._dtmf.subscribe()

    async def play(self, pcm: Pcm, interruptible: bool = True) -> PlayResult:
        self._require_answered("play audio")
        return await self._track.play(pcm, interruptible)

    def interrupt(self) -> None:
        self._track.interrupt()

    def feed(self, frame: Pcm) -> None:
        if self._state is CallState.ANSWERED:
            self._track.feed(frame)

    async def send_dtmf(self, digits: str) -> None:
        """Send digits as RFC 4733 events if negotiated, else as in-band tones (Opus calls)."""
        for digit in digits:
            rfc4733.digit_code(digit)
        self._require_answered("send DTMF")
        if self._event_pt is None:
            await self._track.play(dtmf_tones(digits), interruptible=False)
            return
        if self._event_sender is None:
            self._event_sender = rfc4733.EventSender(self.peer.transceiver.sender, self._event_pt)
        try:
            await self._event_sender.send(digits)
        except ConnectionError as exc:
            raise LegStateError(f"cannot send DTMF: {exc}") from None

    async def hangup(self) -> None:
        signal = self._signal_hangup if self._closing is None else None
        self._begin_end(HangupCause.LOCAL)
        if signal is not None:
            try:
                await signal()
            except Exception:
                log.exception("telling the far end about our hang-up failed")
        await self.end(HangupCause.LOCAL)

    # --- driven by the transport -------------------------------------------------------------

    def set_hangup_signal(self, signal: Callable[[], Awaitable[None]] | None) -> None:
        """Set what tells the far end when our side hangs up (a BYE, a CANCEL, ...)."""
        self._signal_hangup = signal

    @property
    def rfc4733(self) -> bool:
        """Whether telephone-event was negotiated on this leg."""
        return self._event_pt is not None

    def start_media(self) -> None:
        """Hook RFC 4733 in and start reading; call once both descriptions are set."""
        self._event_pt = rfc4733.negotiated_payload_type(self.peer.pc)
        if self._event_pt is not None:
            rfc4733.EventReceiver(self.peer.transceiver.receiver, self._event_pt, self._on_digit)
        self._spawn(self._read())

    def set_ringing(self) -> None:
        """The far end is alerting (SIP 180/183)."""
        if self._state is CallState.DIALING:
            self._state = CallState.RINGING

    def set_answered(self) -> None:
        """The far end picked up: audio may flow both ways from now on."""
        if self._state in (CallState.DIALING, CallState.RINGING):
            self._state = CallState.ANSWERED
            self._was_answered = True
            self.answered_at = time.time()
            self._track.open()
            self._ring_over.set()

    async def end(self, cause: HangupCause) -> None:
        """End the leg with ``cause`` (the first cause wins) and release everything."""
        self._begin_end(cause)
        assert self._closing is not None
        await asyncio.shield(self._closing)

    # --- internals ---------------------------------------------------------------------------

    def _begin_end(self, cause: HangupCause) -> None:
        if self._closing is not None:
            return
        self._cause = cause
        self._state = CallState.ENDED
        self.ended_at = time.time()
        self._signal_hangup = None
        self._ring_over.set()
        self._closing = asyncio.create_task(self._clean_up())
        self._end_started.set()

    async def _clean_up(self) -> None:
        if self._event_sender is not None:
            self._event_sender.cancel()
        self._track.stop()
        self._audio.close()
        self._dtmf.close()
        for task in self._tasks:
            task.cancel()
        try:
            await self.peer.close()
        except Exception:
            log.exception("closing the peer connection failed")
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("media task of a call broke", exc_info=exc)
            self._begin_end(HangupCause.FAILED)

    async def _read(self) -> None:
        track = await self.peer.remote_track()
        async for frame in InboundReader(track).frames():
            if self._state is CallState.ANSWERED:
                self._audio.publish(frame)
        if self._closing is None:  # RTCP BYE or DTLS close from the far end
            self._begin_end(
                HangupCause.REMOTE if self._state is CallState.ANSWERED else HangupCause.FAILED
            )

    def _on_digit(self, digit: str) -> None:
        if self._state is CallState.ANSWERED:
            self._dtmf.publish(DtmfEvent(digit, "rfc4733"))

    def _on_connection_state(self) -> None:
        if self.peer.state == "failed" and self._closing is None:
            self._begin_end(HangupCause.FAILED)

    def _require_answered(self, what: str) -> None:
        if self._state is not CallState.ANSWERED:
            raise LegStateError(f"cannot {what}: the call is {self._state}")
