"""The leg of a call through Janus: a :class:`PeerLeg` plus what only SIP offers.

Digits the far end sends in SIP INFO join the RFC 4733 ones on :meth:`dtmf`; digits we send go as
RFC 4733 events when negotiated, else as SIP INFO; :meth:`JanusLeg.transfer` hands the far end to
an agent's phone with a SIP REFER; :attr:`JanusLeg.reason` says in words why a call failed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from voicebot.telephony import rfc4733
from voicebot.telephony.janus.client import JanusEvent, JanusHandle
from voicebot.telephony.leg import CallState, DtmfEvent, LegStateError
from voicebot.telephony.peerleg import PeerLeg
from voicebot.telephony.rtc import RtcPeer
from voicebot.telephony.tracks import OutboundTrack

REQUEST_TIMEOUT = 10.0
"""Seconds to wait for the event answering a plugin request (register, transfer, INFO)."""
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

    async def transfer(self, uri: str, timeout: float = REQUEST_TIMEOUT) -> None:
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

    @property
    def waiting(self) -> bool:
        """Whether a request of ours (transfer, SIP INFO digit) waits for Janus's answer."""
        return bool(self._waiters)

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

    async def _request(
        self, body: dict[str, Any], expect: str, timeout: float = REQUEST_TIMEOUT
    ) -> JanusEvent:
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
