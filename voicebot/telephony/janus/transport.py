"""Calling phones through the Janus SIP gateway: :class:`JanusTransport` and its :class:`JanusLeg`.

The bot's aiortc peer talks WebRTC to Janus; Janus's SIP plugin turns that into a SIP call
(plain RTP, G.711 or Opus: Janus relays, it never transcodes). One Janus session per transport;
one plugin handle per call (a guest handle carrying the caller id, or a helper of the registered
account's master handle), so calls on one account run concurrently.

Each call runs a small task that reads its handle's events and drives the leg: ``ringing`` and
``proceeding`` → RINGING, ``progress`` (early media) and ``accepted`` → the answer SDP applied,
ANSWERED once media connects; ``info`` → a SIP INFO digit; ``hangup`` → the cause mapped by
:mod:`.events`. The ring timeout cancels the INVITE (Janus sends CANCEL). If the answer names a
codec we did not offer, the SIP leg is hung up and the leg ends ``failed`` with a reason. If Janus
dies, every call ends ``failed`` and later dials fail at once with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from typing import Any

from voicebot.telephony import rfc4733
from voicebot.telephony.janus.client import LOST, JanusError, JanusEvent, JanusHandle, JanusSession
from voicebot.telephony.janus.config import AccountKind, JanusConfig
from voicebot.telephony.janus.events import audio_codecs, error_text, hangup_cause, info_digit
from voicebot.telephony.leg import CallState, DtmfEvent, HangupCause, LegStateError, Transport
from voicebot.telephony.peerleg import PeerLeg
from voicebot.telephony.rtc import ConnectError, RtcPeer, RtcSettings
from voicebot.telephony.tracks import OutboundTrack

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"\+?[0-9]{3,15}")
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_REQUEST_TIMEOUT = 10.0
"""Seconds to wait for the event answering a plugin request (register, transfer)."""
_HANGUP_WAIT = 5.0
"""Seconds to wait for Janus's ``hangup`` event after we hung up, before letting go."""
INFO_DURATION_MS = 160


def mask(number: str) -> str:
    """``+8613800138000`` → ``+86138****8000``: enough to tell calls apart in a log."""
    return "*" * len(number) if len(number) <= 8 else f"{number[:-8]}****{number[-4:]}"


class JanusLeg(PeerLeg):
    """A call through Janus: a :class:`PeerLeg` plus SIP-side digits, transfer and a reason.

    Attributes:
        reason: why the call failed, in words (codec mismatch, gateway gone, SIP status).
        sip_code: the SIP status of the hang-up, when Janus reported one.
        early_media: the far end sent early media (183 with SDP) before answering.
    """

    def __init__(self, number: str, peer: RtcPeer, track: OutboundTrack) -> None:
        super().__init__(number, peer, track)
        self.handle: JanusHandle | None = None
        self.reason: str | None = None
        self.sip_code: int | None = None
        self.early_media = False
        self._waiters: dict[str, asyncio.Future[JanusEvent]] = {}

    async def send_dtmf(self, digits: str) -> None:
        """Send digits as RFC 4733 events if negotiated, else as SIP INFO (dtmf-relay)."""
        for digit in digits:
            rfc4733.digit_code(digit)
        if self.state is not CallState.ANSWERED:
            raise LegStateError(f"cannot send DTMF: the call is {self.state}")
        if self.rfc4733 or self.handle is None:
            await super().send_dtmf(digits)
            return
        for digit in digits:
            await self._request(
                {"request": "dtmf_info", "digit": digit, "duration": INFO_DURATION_MS},
                "dtmfsent",
            )

    async def transfer(self, uri: str, timeout: float = _REQUEST_TIMEOUT) -> None:
        """Blind-transfer the far end to ``uri`` (a SIP REFER, e.g. to an agent's phone).

        Returns once the far end accepted the REFER; the far end then calls ``uri`` itself and
        hangs up on us (the leg ends ``remote``), or the session hangs up.

        Raises:
            LegStateError: the call is not answered.
            JanusError: Janus or the far end refused the transfer.
        """
        if not uri.startswith(("sip:", "sips:")):
            raise ValueError(f"transfer uri {uri!r}: expected a SIP URI such as sip:agent@pbx")
        if self.state is not CallState.ANSWERED:
            raise LegStateError(f"cannot transfer: the call is {self.state}")
        await self._request({"request": "transfer", "uri": uri}, "transferring", timeout)

    def publish_sip_digit(self, digit: str) -> None:
        """A digit arrived in a SIP INFO."""
        if self.state is CallState.ANSWERED:
            self._dtmf.publish(DtmfEvent(digit, "sip_info"))

    def resolve(self, event: JanusEvent, name: str) -> bool:
        """Hand an event to the request waiting for it; False if nobody waits."""
        waiter = self._waiters.pop(name, None)
        if waiter is None or waiter.done():
            return False
        waiter.set_result(event)
        return True

    def fail_waiters(self, error: Exception) -> None:
        """Wake every pending request with ``error`` (the call ended, or Janus refused)."""
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(error)
        self._waiters.clear()

    async def _request(self, body: dict[str, Any], expect: str, timeout: float = _REQUEST_TIMEOUT) -> JanusEvent:
        if self.handle is None:
            raise LegStateError("the call has no Janus handle")
        if expect in self._waiters:
            raise LegStateError(f"a {body['request']} request is already under way")
        waiter: asyncio.Future[JanusEvent] = asyncio.get_running_loop().create_future()
        self._waiters[expect] = waiter
        try:
            await self.handle.message(body)
            async with asyncio.timeout(timeout):
                return await waiter
        finally:
            if self._waiters.get(expect) is waiter:
                del self._waiters[expect]


class JanusTransport(Transport):
    """Places calls through a Janus SIP gateway.

    Args:
        config: the gateway, account and trunk.
        settings: the bot's media settings; by default the config's codec and host.
    """

    def __init__(self, config: JanusConfig, settings: RtcSettings | None = None) -> None:
        self.config = config
        self.settings = settings or RtcSettings(host=config.host, codec=config.codec)
        self._session: JanusSession | None = None
        self._master: JanusHandle | None = None
        self._master_id: int | None = None
        self._connecting = asyncio.Lock()
        self._calls: set[asyncio.Task[None]] = set()

    @property
    def available(self) -> bool:
        """Whether the gateway session is up."""
        return self._session is not None and self._session.alive

    async def connect(self) -> None:
        """Open the Janus session and, for a registered account, register it (idempotent).

        Raises:
            JanusUnavailable: the gateway cannot be reached.
            JanusError: the registration failed.
        """
        async with self._connecting:
            if self.available:
                return
            if self._session is not None:
                await self._session.close()
            session = JanusSession(self.config.url, keepalive=self.config.keepalive)
            try:
                await session.open()
                master, master_id = None, None
                if self.config.kind is AccountKind.REGISTERED:
                    master = await session.attach()
                    registered = await _register(master, self._register_body())
                    master_id = registered.get("master_id")
                    if master_id is None:
                        raise JanusError("registered, but Janus gave no master_id for helpers")
            except BaseException:
                await session.close()
                raise
            self._session, self._master, self._master_id = session, master, master_id

    async def dial(
        self,
        number: str,
        caller_id: str,
        timeout: float,
        *,
        headers: Mapping[str, str] | None = None,
        uri: str | None = None,
    ) -> JanusLeg:
        """Call ``number``; returns once the INVITE is out (or the call has already failed).

        Args:
            number: E.164 digits.
            caller_id: the number shown to the callee.
            timeout: ring timeout in seconds (then CANCEL, and the leg ends ``no_answer``).
            headers: extra SIP headers for the INVITE (``X-Campaign: spring``).
            uri: call this SIP URI instead of the trunk's URI for ``number``.

        Raises:
            ValueError: bad number, caller id, timeout or header name.
        """
        for name, value in (("number", number), ("caller_id", caller_id)):
            if not _NUMBER.fullmatch(value):
                raise ValueError(f"{name} {mask(value)!r}: expected E.164 digits")
        if timeout <= 0:
            raise ValueError(f"timeout {timeout}: expected a ring timeout > 0 seconds")
        extra = dict(headers or {})
        for name in extra:
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"header {name!r}: expected a SIP header name such as X-Campaign")
        track = OutboundTrack()
        leg = JanusLeg(number, RtcPeer(self.settings, track), track)
        try:
            await self.connect()
            assert self._session is not None
            handle = await self._session.attach()
            leg.handle = handle
            await _register(handle, self._call_register_body(caller_id))
            offer = await leg.peer.offer()
            if self.config.kind is AccountKind.REGISTERED:
                extra.setdefault(self.config.caller_id_header, f"<sip:{caller_id}@{self.config.domain}>")
            body = {"request": "call", "uri": uri or self.config.uri_for(number), "headers": extra}
            await handle.message(body, {"type": "offer", "sdp": offer, "trickle": False})
        except (JanusError, ConnectError) as exc:
            leg.reason = str(exc)
            log.warning("janus: call to %s failed: %s", mask(number), exc)
            await self._give_up(leg)
            return leg
        call = _Call(self, leg, handle, timeout)
        leg.set_hangup_signal(call.hang_up)
        task = asyncio.create_task(call.run(), name=f"janus-call-{handle.id}")
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        return leg

    async def close(self) -> None:
        """Hang up calls still under way, unregister and destroy the session."""
        for task in list(self._calls):
            task.cancel()
        for task in list(self._calls):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            if self._master is not None:
                await self._master.detach()
            await self._session.close()
        self._session = self._master = None

    async def _give_up(self, leg: JanusLeg) -> None:
        if leg.handle is not None:
            with contextlib.suppress(JanusError):
                await leg.handle.detach()
        await leg.end(HangupCause.FAILED)

    def _register_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"request": "register", "username": self.config.account}
        if self.config.registrar is not None:
            body["proxy"] = self.config.registrar
        if self.config.authuser is not None:
            body["authuser"] = self.config.authuser
        if self.config.display_name is not None:
            body["display_name"] = self.config.display_name
        password = self.config.password()
        if password is not None:
            body["secret"] = password
        return body

    def _call_register_body(self, caller_id: str) -> dict[str, Any]:
        if self.config.kind is AccountKind.REGISTERED:
            assert self._master_id is not None
            body = self._register_body()
            body.update(type="helper", master_id=self._master_id)
            return body
        body = {"request": "register", "type": "guest"}
        body["username"] = f"sip:{caller_id}@{self.config.domain}"
        if self.config.display_name is not None:
            body["display_name"] = self.config.display_name
        return body


async def _register(handle: JanusHandle, body: dict[str, Any]) -> dict[str, Any]:
    """Register ``handle`` and wait for ``registered`` (never logs the body: it holds the secret).

    Returns the ``registered`` result; a master's carries the ``master_id`` its helpers name.
    """
    await handle.message(body)
    async with asyncio.timeout(_REQUEST_TIMEOUT):
        while True:
            event = await handle.next_event()
            if event.kind == LOST:
                raise JanusError(f"gateway lost while registering: {event.data.get('reason')}")
            result = event.data.get("result") or {}
            if result.get("event") == "registered":
                return dict(result)
            if result.get("event") == "registration_failed":
                raise JanusError(f"registration failed: {result.get('code')} {result.get('reason')}")
            if "error_code" in event.data:
                raise JanusError(f"register refused: {error_text(event.data)}")


class _Call:
    """The event loop of one call: Janus events in, leg states out."""

    def __init__(self, transport: JanusTransport, leg: JanusLeg, handle: JanusHandle, timeout: float) -> None:
        self.transport = transport
        self.leg = leg
        self.handle = handle
        self.timeout = timeout
        self.ring_timed_out = False
        self.we_hung_up = False
        self.answer_applied = False
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
        if self.leg.state in (CallState.DIALING, CallState.RINGING):
            log.info("janus: %s unanswered after %g s, cancelling", mask(self.leg.number), self.timeout)
            self.ring_timed_out = True
            await self._hang_up_sip()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_HANGUP_WAIT):
                    await self.got_hangup.wait()
            await self.leg.end(HangupCause.NO_ANSWER)

    async def _events(self) -> None:
        leg = self.leg
        while True:
            if leg.state is CallState.ENDED and (self.got_hangup.is_set() or not self.we_hung_up):
                if self.got_hangup.is_set() or not self.handle.session.alive:
                    return
            try:
                event = await self.handle.next_event(
                    _HANGUP_WAIT if leg.state is CallState.ENDED else None
                )
            except TimeoutError:
                return
            if event.kind == LOST:
                leg.reason = leg.reason or f"Janus gateway lost: {event.data.get('reason')}"
                await leg.end(HangupCause.FAILED)
                return
            if event.kind == "event":
                await self._plugin_event(event)
            if self.got_hangup.is_set():
                return

    async def _plugin_event(self, event: JanusEvent) -> None:
        leg = self.leg
        if "error_code" in event.data:
            error = JanusError(error_text(event.data), event.data.get("error_code"))
            if leg.state is CallState.ANSWERED and leg._waiters:  # a request of ours was refused
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
            if event.jsep is not None or not self.answer_applied:
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
