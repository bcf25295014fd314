"""The one place that creates aiortc peer connections, so every peer is configured the same way.

Three rules hold for every peer the engine makes:

* no STUN or TURN server: ``RTCConfiguration(iceServers=[])`` (aiortc's default would contact a
  public STUN server);
* host candidates pinned to one configured address. aioice drops 127.0.0.1 from its host
  addresses, so two peers on one machine could not reach each other; tests pin 127.0.0.1, the Janus
  namespace tests 127.0.0.2. The pin is a context variable read by a wrapper around
  ``aioice.ice.get_host_addresses``, set only while this module gathers candidates, so other
  connections keep aioice's behaviour;
* codec preferences chosen here: PCMU by default (what phones want), PCMA, or Opus, with RFC 4733
  telephone-event offered beside G.711.

Optionally, ICE checks are answered only from :attr:`RtcSettings.remote_networks`. A browser
sends ICE checks from every interface it has, also to a loopback candidate; aioice would
answer each and adopt the sender as a peer-reflexive candidate, so media could end up on an
address no one configured. With ``remote_networks`` set, checks from elsewhere go unanswered
(aioice's ``Connection.request_received`` is wrapped the same way as its host addresses).

aiortc does not trickle ICE: :meth:`RtcPeer.offer` and :meth:`RtcPeer.answer` return the full
SDP, candidates included.
"""

from __future__ import annotations

import asyncio
import ipaddress
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aioice.ice
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.exceptions import OperationError
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

from voicebot.telephony import rfc4733
from voicebot.telephony.sdp import voice_codecs

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Codec(StrEnum):
    """Audio codecs a call may use."""

    PCMU = "pcmu"
    PCMA = "pcma"
    OPUS = "opus"

    @property
    def capability(self) -> RTCRtpCodecCapability:
        """The capability to hand to ``setCodecPreferences``."""
        return _CAPABILITIES[self]

    @property
    def carries_rfc4733(self) -> bool:
        """Whether telephone-event/8000 fits this codec's 8 kHz RTP clock."""
        return self is not Codec.OPUS


_CAPABILITIES = {
    Codec.PCMU: RTCRtpCodecCapability(mimeType="audio/PCMU", clockRate=8000, channels=1),
    Codec.PCMA: RTCRtpCodecCapability(mimeType="audio/PCMA", clockRate=8000, channels=1),
    Codec.OPUS: RTCRtpCodecCapability(mimeType="audio/opus", clockRate=48000, channels=2),
}


@dataclass(frozen=True, slots=True)
class RtcSettings:
    """How a peer gathers candidates and which codec it offers.

    Attributes:
        host: the only local address ICE may use (an IP literal; loopback in tests).
        codec: the audio codec to offer or accept.
        dtmf: offer RFC 4733 telephone-event beside G.711 (ignored for Opus).
        connect_timeout: seconds to wait for ICE and DTLS to complete.
        remote_networks: where the far end's ICE checks are answered from; empty: anywhere.
    """

    host: str = "127.0.0.1"
    codec: Codec = Codec.PCMU
    dtmf: bool = True
    connect_timeout: float = 10.0
    remote_networks: tuple[IpNetwork, ...] = ()

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise ValueError(
                f"host {self.host!r}: expected an IP address such as 127.0.0.1"
            ) from None
        if not isinstance(self.codec, Codec):  # a name from a config file: "pcmu", "OPUS"
            try:
                object.__setattr__(self, "codec", Codec(str(self.codec).lower()))
            except ValueError:
                expected = ", ".join(c.value for c in Codec)
                raise ValueError(f"codec {self.codec!r}: expected one of {expected}") from None
        if self.connect_timeout <= 0:
            raise ValueError(f"connect_timeout {self.connect_timeout}: expected > 0 seconds")

    @property
    def preferences(self) -> list[RTCRtpCodecCapability]:
        """Codec preferences in order: the audio codec first (it is the one sent)."""
        prefs = [self.codec.capability]
        if self.dtmf and self.codec.carries_rfc4733:
            prefs.append(rfc4733.EVENT_CAPABILITY)
        return prefs


_pinned_host: ContextVar[str | None] = ContextVar("voicebot_ice_host", default=None)
_aioice_host_addresses = aioice.ice.get_host_addresses


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    host = _pinned_host.get()
    if host is None:
        return _aioice_host_addresses(use_ipv4, use_ipv6)
    return [host]


_remote_networks: weakref.WeakKeyDictionary[aioice.ice.Connection, tuple[IpNetwork, ...]] = (
    weakref.WeakKeyDictionary()
)
_aioice_request_received = aioice.ice.Connection.request_received


def _allowed_remote(networks: tuple[IpNetwork, ...], host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _request_received(
    self: aioice.ice.Connection, message: Any, addr: tuple[str, int], protocol: Any
) -> None:
    networks = _remote_networks.get(self)
    if networks and not _allowed_remote(networks, addr[0]):
        return  # no answer, no peer-reflexive candidate: media never goes there
    _aioice_request_received(self, message, addr, protocol)


def _install() -> None:
    rfc4733.install()
    aioice.ice.get_host_addresses = _host_addresses
    aioice.ice.Connection.request_received = _request_received  # type: ignore[method-assign]


_install()


@contextmanager
def _pinned(host: str) -> Iterator[None]:
    token = _pinned_host.set(host)
    try:
        yield
    finally:
        _pinned_host.reset(token)


class ConnectError(Exception):
    """ICE or DTLS did not complete in time, or the connection failed."""


class RtcPeer:
    """One aiortc peer with one audio transceiver (sendrecv), configured by :class:`RtcSettings`.

    Usage: the calling side does ``sdp = await peer.offer()`` and later ``await
    peer.accept(answer)``; the called side does ``answer = await peer.answer(offer)``. Then
    ``await peer.connected()``; ``await peer.close()`` always, exactly once or more.
    """

    def __init__(self, settings: RtcSettings, track: MediaStreamTrack) -> None:
        self.settings = settings
        self.configuration = RTCConfiguration(iceServers=[])
        """No STUN/TURN server, ever: host candidates on the pinned address are all there is."""
        self.pc = RTCPeerConnection(self.configuration)
        self._track = track
        self._transceiver: RTCRtpTransceiver | None = None
        self._remote_track: asyncio.Future[MediaStreamTrack] = (
            asyncio.get_running_loop().create_future()
        )
        self._state_changed = asyncio.Event()
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._state_changed.set)

    @property
    def transceiver(self) -> RTCRtpTransceiver:
        """The audio transceiver (exists once :meth:`offer` or :meth:`answer` ran)."""
        if self._transceiver is None:
            raise RuntimeError("no transceiver yet: call offer() or answer() first")
        return self._transceiver

    @property
    def state(self) -> str:
        """aiortc's connection state: new, connecting, connected, failed or closed."""
        return str(self.pc.connectionState)

    async def offer(self) -> str:
        """Create the offer with every local candidate in it."""
        self._add_transceiver()
        await self._set_local(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def answer(self, offer_sdp: str) -> str:
        """Accept the far end's offer and return the full answer.

        Raises:
            ValueError: the offer has no codec in common with our preferences.
        """
        self._add_transceiver()
        self._require_codec(offer_sdp, "offer")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except OperationError as exc:
            raise ValueError(f"offer not acceptable with {self.settings.codec}: {exc}") from exc
        await self._set_local(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    def _add_transceiver(self) -> None:
        if self._transceiver is not None:
            raise RuntimeError("offer() or answer() may only be called once per peer")
        transceiver = self.pc.addTransceiver(self._track, direction="sendrecv")
        transceiver.setCodecPreferences(self.settings.preferences)
        self._transceiver = transceiver
        if self.settings.remote_networks:
            connection = transceiver.sender.transport.transport.iceGatherer._connection
            _remote_networks[connection] = self.settings.remote_networks

    async def accept(self, answer_sdp: str) -> None:
        """Apply the far end's answer to our offer.

        Raises:
            ValueError: the answer names no codec we offered.
        """
        self._require_codec(answer_sdp, "answer")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
        except OperationError as exc:
            raise ValueError(f"answer not acceptable with {self.settings.codec}: {exc}") from exc

    def _require_codec(self, sdp: str, kind: str) -> None:
        """Refuse a description without our voice codec (telephone-event alone is no audio)."""
        voices = voice_codecs(sdp)
        if self.settings.codec.value not in voices:
            raise ValueError(
                f"codec mismatch: we use {self.settings.codec.value}, the far end's {kind} "
                f"has {', '.join(voices) or 'no voice codec'}"
            )

    async def remote_track(self) -> MediaStreamTrack:
        """The far end's audio track (known once both descriptions are set)."""
        return await self._remote_track

    async def connected(self) -> None:
        """Wait until ICE and DTLS are up.

        Raises:
            ConnectError: the connection failed, closed or took longer than the timeout.
        """
        try:
            async with asyncio.timeout(self.settings.connect_timeout):
                while self.state != "connected":
                    if self.state in ("failed", "closed"):
                        raise ConnectError(f"peer connection {self.state}")
                    self._state_changed.clear()
                    await self._state_changed.wait()
        except TimeoutError:
            raise ConnectError(
                f"not connected after {self.settings.connect_timeout:g} s (state {self.state})"
            ) from None

    async def close(self) -> None:
        """Stop the media, send RTCP BYE, close ICE and DTLS (idempotent)."""
        if not self._remote_track.done():
            self._remote_track.cancel()
        await self.pc.close()

    async def _set_local(self, description: RTCSessionDescription) -> None:
        with _pinned(self.settings.host):
            await self.pc.setLocalDescription(description)

    def _on_track(self, track: Any) -> None:
        if track.kind == "audio" and not self._remote_track.done():
            self._remote_track.set_result(track)
