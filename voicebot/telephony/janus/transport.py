"""Calling phones through the Janus SIP gateway: :class:`JanusTransport`.

The bot's aiortc peer talks WebRTC to Janus; Janus's SIP plugin turns that into a SIP call (plain
RTP, G.711 or Opus: Janus relays, it never transcodes). One Janus session per transport; one
plugin handle per call (a guest handle carrying the caller id, or a helper of the registered
account's master handle), so calls on one account run concurrently. Each call's events are read
by a :class:`~voicebot.telephony.janus.call.JanusCall`. If Janus dies, every call ends ``failed``
and later dials fail at once with the reason (a new session is tried on each dial).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from typing import Any

from voicebot.telephony.janus.call import JanusCall
from voicebot.telephony.janus.client import LOST, JanusError, JanusHandle, JanusSession
from voicebot.telephony.janus.config import AccountKind, JanusConfig
from voicebot.telephony.janus.events import error_text
from voicebot.telephony.janus.leg import REQUEST_TIMEOUT, JanusLeg, mask
from voicebot.telephony.leg import HangupCause, RunningCalls, Transport
from voicebot.telephony.rtc import ConnectError, RtcPeer, RtcSettings
from voicebot.telephony.tracks import OutboundTrack

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"\+?[0-9]{3,15}")
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


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
        self._calls = RunningCalls()

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
            ValueError: bad number, caller id, timeout, header or URI.
        """
        for name, value in (("number", number), ("caller_id", caller_id)):
            if not _NUMBER.fullmatch(value):
                raise ValueError(f"{name} {mask(value)!r}: expected E.164 digits")
        if timeout <= 0:
            raise ValueError(f"timeout {timeout}: expected a ring timeout > 0 seconds")
        extra = dict(headers or {})
        for name, value in extra.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"header {name!r}: expected a SIP header name such as X-Campaign")
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name}: the value may not contain line breaks")
        if uri is not None and not uri.startswith(("sip:", "sips:")):
            raise ValueError(f"uri {uri!r}: expected a SIP URI such as sip:+12025550100@pbx")
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
                extra.setdefault(
                    self.config.caller_id_header, f"<sip:{caller_id}@{self.config.domain}>"
                )
            body = {"request": "call", "uri": uri or self.config.uri_for(number), "headers": extra}
            await handle.message(body, {"type": "offer", "sdp": offer, "trickle": False})
        except (JanusError, ConnectError, TimeoutError) as exc:
            leg.reason = str(exc) or f"Janus at {self.config.url} did not answer in time"
            log.warning("janus: call to %s failed: %s", mask(number), exc)
            await self._give_up(leg)
            return leg
        call = JanusCall(leg, handle, timeout)
        leg.set_hangup_signal(call.hang_up)
        self._calls.start(call.run(), name=f"janus-call-{handle.id}")
        return leg

    async def close(self) -> None:
        """Hang up calls still under way, unregister and destroy the session."""
        await self._calls.cancel_all()
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
    async with asyncio.timeout(REQUEST_TIMEOUT):
        while True:
            event = await handle.next_event()
            if event.kind == LOST:
                raise JanusError(f"gateway lost while registering: {event.data.get('reason')}")
            result = event.data.get("result") or {}
            if result.get("event") == "registered":
                return dict(result)
            if result.get("event") == "registration_failed":
                raise JanusError(
                    f"registration failed: {result.get('code')} {result.get('reason')}"
                )
            if "error_code" in event.data:
                raise JanusError(f"register refused: {error_text(event.data)}")
