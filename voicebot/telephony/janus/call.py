"""The event loop of one call through Janus: SIP plugin events in, leg states out.

``ringing``/``proceeding`` → RINGING; ``progress`` (183 with SDP: early media) and ``accepted``
apply the answer once (after checking it names the codec we offered: Janus never transcodes);
ANSWERED once the media to Janus connects; ``info`` → a SIP INFO digit; ``hangup`` → the cause
from :mod:`.events`. The ring timeout sends ``hangup`` while ringing, which Janus turns into a
CANCEL. Whenever our side ends the leg for any reason, the SIP leg is hung up too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from voicebot.telephony.janus.client import LOST, JanusError, JanusEvent, JanusHandle
from voicebot.telephony.janus.events import audio_codecs, error_text, hangup_cause, info_digit
from voicebot.telephony.janus.leg import JanusLeg, mask
from voicebot.telephony.leg import CallState, HangupCause, LegStateError
from voicebot.telephony.rtc import ConnectError

log = logging.getLogger(__name__)

_POLL_S = 0.5
"""How often a call's event loop looks at the leg while no event comes."""
_HANGUP_WAIT = 5.0
"""Seconds to wait for Janus's ``hangup`` event after we hung up, before letting go."""


class JanusCall:
    """The event loop of one call: Janus events in, leg states out."""

    def __init__(self, leg: JanusLeg, handle: JanusHandle, timeout: float) -> None:
        self.leg = leg
        self.handle = handle
        self.timeout = timeout
        self.ring_timed_out = False
        self.we_hung_up = False
        self.answer_applied = False
        self.accepted = False
        """The far end answered (200 OK), even if our media is still connecting."""
        self.got_hangup = asyncio.Event()

    async def run(self) -> None:
        timer = asyncio.create_task(self._ring_timer())
        try:
            await self._events()
        except asyncio.CancelledError:
            await self._hang_up_sip()
            await self.leg.end(HangupCause.LOCAL)
            raise
        except Exception as exc:
            log.exception("janus: call to %s broke", mask(self.leg.number))
            self.leg.reason = self.leg.reason or f"{type(exc).__name__}: {exc}"
            await self._hang_up_sip()
            await self.leg.end(HangupCause.FAILED)
        finally:
            timer.cancel()
            self.leg.fail_waiters(LegStateError("the call ended"))
            await self.handle.detach()

    async def hang_up(self) -> None:
        """Our side hangs up (the leg's hang-up signal): BYE, or CANCEL while ringing."""
        await self._hang_up_sip()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_HANGUP_WAIT):
                await self.got_hangup.wait()

    async def _hang_up_sip(self) -> None:
        if self.we_hung_up or self.got_hangup.is_set() or not self.handle.session.alive:
            return
        self.we_hung_up = True
        with contextlib.suppress(JanusError):
            await self.handle.message({"request": "hangup"})

    async def _ring_timer(self) -> None:
        await asyncio.sleep(self.timeout)
        if not self.accepted and self.leg.state in (CallState.DIALING, CallState.RINGING):
            log.info(
                "janus: %s unanswered after %g s, cancelling", mask(self.leg.number), self.timeout
            )
            self.ring_timed_out = True
            await self._hang_up_sip()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_HANGUP_WAIT):
                    await self.got_hangup.wait()
            await self.leg.end(HangupCause.NO_ANSWER)

    async def _events(self) -> None:
        """Read events until Janus confirms the hang-up, the gateway is lost, or it stays mute."""
        leg = self.leg
        mute_since: float | None = None
        loop = asyncio.get_running_loop()
        while not self.got_hangup.is_set():
            if leg.state is CallState.ENDED:
                if not self.handle.session.alive:
                    return
                if not self.we_hung_up:  # the media broke (RTCP BYE, ICE failure): end the SIP leg
                    await self._hang_up_sip()
                mute_since = loop.time() if mute_since is None else mute_since
                if loop.time() - mute_since > _HANGUP_WAIT:
                    return
            try:
                event = await self.handle.next_event(_POLL_S)
            except TimeoutError:
                continue
            if event.kind == LOST:
                leg.reason = leg.reason or f"Janus gateway lost: {event.data.get('reason')}"
                await leg.end(HangupCause.FAILED)
                return
            if event.kind == "event":
                await self._plugin_event(event)

    async def _plugin_event(self, event: JanusEvent) -> None:
        leg = self.leg
        if "error_code" in event.data:
            error = JanusError(error_text(event.data), event.data.get("error_code"))
            if leg.state is CallState.ANSWERED and leg.waiting:  # a request of ours was refused
                leg.fail_waiters(error)
                return
            leg.reason = leg.reason or str(error)
            await self._hang_up_sip()
            await leg.end(HangupCause.FAILED)
            self.got_hangup.set()
            return
        result = event.data.get("result") or {}
        name = str(result.get("event", ""))
        if name in ("ringing", "proceeding"):
            leg.set_ringing()
        elif name == "progress":
            leg.set_ringing()
            if event.jsep is not None and await self._apply_answer(event.jsep):
                leg.early_media = True
        elif name == "accepted":
            self.accepted = True
            if not await self._apply_answer(event.jsep):
                return
            await self._answered()
        elif name == "info":
            digit = info_digit(result)
            if digit is not None:
                leg.publish_sip_digit(digit)
        elif name == "hangup":
            await self._hangup(result)
        elif name in ("transferring", "dtmfsent", "infosent", "notify"):
            leg.resolve(event, name)

    async def _apply_answer(self, jsep: dict[str, Any] | None) -> bool:
        """Apply the far end's SDP once; on a codec we never offered, hang up the SIP leg."""
        if self.answer_applied:
            return True
        leg = self.leg
        sdp = "" if jsep is None else str(jsep.get("sdp", ""))
        answered = audio_codecs(sdp)
        offered = leg.peer.settings.codec.value
        if not sdp:
            leg.reason = "the far end answered without SDP"
        elif offered not in answered:
            leg.reason = (
                f"codec mismatch: offered {offered}, the far end answered {', '.join(answered)}"
            )
        else:
            try:
                await leg.peer.accept(sdp)
            except ValueError as exc:
                leg.reason = f"codec mismatch: offered {leg.peer.settings.codec.value}; {exc}"
            else:
                self.answer_applied = True
                leg.start_media()
                return True
        log.warning("janus: call to %s: %s", mask(leg.number), leg.reason)
        await self._hang_up_sip()
        await leg.end(HangupCause.FAILED)
        return False

    async def _answered(self) -> None:
        leg = self.leg
        if leg.state is CallState.ENDED:
            return
        try:
            await leg.peer.connected()
        except ConnectError as exc:
            leg.reason = f"media to Janus did not connect: {exc}"
            await self._hang_up_sip()
            await leg.end(HangupCause.FAILED)
            return
        leg.set_answered()

    async def _hangup(self, result: dict[str, Any]) -> None:
        leg = self.leg
        code = int(result.get("code", 0) or 0)
        leg.sip_code = code
        cause = hangup_cause(
            code,
            answered=leg.answered_at is not None,
            ring_timed_out=self.ring_timed_out,
            we_hung_up=self.we_hung_up,
        )
        if cause is HangupCause.FAILED and leg.reason is None:
            leg.reason = f"SIP {code} {result.get('reason', '')}".strip()
        self.got_hangup.set()
        await leg.end(cause)
