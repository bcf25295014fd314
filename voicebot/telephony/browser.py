"""An agent's browser as a :class:`~voicebot.telephony.leg.Leg`: answer its WebRTC offer.

The console's page (``web/static/agent_audio.js``) offers its microphone, waits until ICE
gathering completes (aiortc does not trickle) and posts the offer; :func:`answer_browser` returns
the agent's leg and the answer. The leg is a :class:`~voicebot.telephony.peerleg.PeerLeg`, so a
warm transfer bridges it to the caller's leg like any other, in the engine's 8 kHz frames
(aiortc resamples Opus at 48 kHz). It is ANSWERED once ICE and DTLS connect, FAILED if they do
not within the timeout, and ENDED when the browser closes its peer, the connection fails, or
:meth:`~voicebot.telephony.leg.Leg.hangup` closes it from our side.

Where media may flow is configured, never guessed:

* our side offers one host candidate, on :attr:`BrowserMedia.address`
  (``VOICEBOT_MEDIA_ADDRESS``, default 127.0.0.1), through :mod:`voicebot.telephony.rtc`'s pin;
* of the browser's candidates only UDP ones on :attr:`BrowserMedia.networks`
  (``VOICEBOT_MEDIA_NETWORKS``) are kept; mDNS ``.local`` names are never resolved (that would
  be multicast on the LAN) and TCP candidates are dropped (aioice speaks UDP only); ICE checks
  the browser sends from other interfaces go unanswered (``RtcSettings.remote_networks``).

There is no STUN or TURN server, so the agent's browser must reach the media address directly.
What a deployment needs:

* Console served on loopback (tests, one machine): the defaults. Chromium must add loopback
  candidates and show real addresses: ``--allow-loopback-in-peer-connection`` and
  ``--disable-features=WebRtcHideLocalIpsWithMdns`` (once the page holds microphone permission
  Chromium shows real addresses anyway, but the flag makes it certain).
* Agents on a LAN or VPN: ``VOICEBOT_MEDIA_ADDRESS`` = the server's address on that network and
  ``VOICEBOT_MEDIA_NETWORKS`` = the agents' networks (e.g. ``10.8.0.0/16``). A browser hides its
  addresses behind mDNS names until the page has microphone permission; the console asks for the
  microphone before it offers, so real addresses are in the offer. Browsers with a stricter
  policy (Firefox's ``media.peerconnection.ice.obfuscate_host_addresses``, enterprise policies
  ``WebRtcLocalIpsAllowedUrls``) must allow the console's origin to see local addresses.
* Agents across the internet: out of scope without a TURN server; put them on the VPN.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from voicebot.telephony.leg import HangupCause, Leg
from voicebot.telephony.peerleg import PeerLeg
from voicebot.telephony.rtc import Codec, ConnectError, IpNetwork, RtcPeer, RtcSettings
from voicebot.telephony.sdp import CandidateLine, candidate_lines, keep_candidates, voice_codecs
from voicebot.telephony.tracks import OutboundTrack

log = logging.getLogger(__name__)

ADDRESS_ENV = "VOICEBOT_MEDIA_ADDRESS"
NETWORKS_ENV = "VOICEBOT_MEDIA_NETWORKS"

_CODECS = {codec.value: codec for codec in Codec}
_MAX_OFFER_CHARS = 64 * 1024
"""A browser's audio offer is 2-4 kB; anything this big is not one."""
_FINGERPRINT = re.compile(
    r"^a=fingerprint:sha-(1|224|256|384|512) [0-9A-F]{2}(:[0-9A-F]{2})+\s*$", re.M | re.I
)
_ICE_UFRAG = re.compile(r"^a=ice-ufrag:\S+", re.M)
_ICE_PWD = re.compile(r"^a=ice-pwd:\S+", re.M)


class BrowserOfferError(ValueError):
    """The browser's offer cannot be answered; the message says why (the web route's 400)."""


@dataclass(frozen=True, slots=True)
class BrowserMedia:
    """Where browser media flows.

    Attributes:
        address: our only local media address (an IP literal), offered as our one candidate.
        networks: the networks a browser's candidates must be on to be tried. Empty means the
            address's own: 127.0.0.0/8 (or ::1) for a loopback address, else any address of its
            family except loopback.
    """

    address: str = "127.0.0.1"
    networks: tuple[IpNetwork, ...] = ()

    def __post_init__(self) -> None:
        try:
            ip = ipaddress.ip_address(self.address)
        except ValueError:
            raise ValueError(
                f"media address {self.address!r}: expected an IP address such as 127.0.0.1"
            ) from None
        if not self.networks:
            if ip.is_loopback:
                default = ["127.0.0.0/8" if ip.version == 4 else "::1/128"]
            else:
                default = ["0.0.0.0/0" if ip.version == 4 else "::/0"]
            object.__setattr__(self, "networks", tuple(ipaddress.ip_network(n) for n in default))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BrowserMedia:
        """``VOICEBOT_MEDIA_ADDRESS`` and ``VOICEBOT_MEDIA_NETWORKS`` (comma-separated CIDRs).

        Raises:
            ValueError: an address or network that does not parse, named with its variable.
        """
        env = os.environ if environ is None else environ
        address = env.get(ADDRESS_ENV, "").strip() or "127.0.0.1"
        networks: list[IpNetwork] = []
        for item in env.get(NETWORKS_ENV, "").split(","):
            if item.strip():
                try:
                    networks.append(ipaddress.ip_network(item.strip(), strict=False))
                except ValueError:
                    raise ValueError(
                        f"{NETWORKS_ENV}: {item.strip()!r} is not a network such as 10.8.0.0/16"
                    ) from None
        try:
            return cls(address, tuple(networks))
        except ValueError as exc:
            raise ValueError(f"{ADDRESS_ENV}: {exc}") from None

    def usable(self, candidate: CandidateLine) -> bool:
        """Whether media may flow to ``candidate``: UDP, an IP literal on our networks."""
        if candidate.transport != "udp":
            return False
        try:
            ip = ipaddress.ip_address(candidate.address)
        except ValueError:  # a hostname: mDNS .local, or anything else we will not resolve
            return False
        if ip.is_loopback != ipaddress.ip_address(self.address).is_loopback:
            return False
        return any(ip in network for network in self.networks)


class BrowserLeg(PeerLeg):
    """A :class:`PeerLeg` answered by us that waits for ICE and DTLS before it counts as answered.

    Attributes:
        reason: why the leg failed to connect (None unless it did).
    """

    reason: str | None = None

    def watch_connection(self) -> None:
        """Turn ANSWERED once connected; FAILED with :attr:`reason` if that does not happen."""
        self._spawn(self._await_connection())

    async def _await_connection(self) -> None:
        try:
            await self.peer.connected()
        except ConnectError as exc:
            self.reason = f"the browser's media did not connect: {exc}"
            log.warning("%s", self.reason)
            self._begin_end(HangupCause.FAILED)
            return
        self.set_answered()


def check_offer(offer_sdp: str, media: BrowserMedia) -> tuple[str, Codec]:
    """Validate a browser's offer: the SDP to hand to aiortc and the codec to answer with.

    Raises:
        BrowserOfferError: not an SDP, no usable audio section, no codec in common, or no
            candidate media may flow to.
    """
    if not isinstance(offer_sdp, str) or not offer_sdp.strip():
        raise BrowserOfferError("the offer is empty: expected the browser's SDP text")
    if len(offer_sdp) > _MAX_OFFER_CHARS:
        raise BrowserOfferError(f"the offer is {len(offer_sdp)} characters, too long for an SDP")
    if not offer_sdp.lstrip().startswith("v=0"):
        raise BrowserOfferError("the offer is not an SDP (it must start with 'v=0')")
    audio = [line for line in offer_sdp.splitlines() if line.startswith("m=audio ")]
    if not audio:
        raise BrowserOfferError("the offer has no audio (no 'm=audio' line)")
    if len(audio) > 1:
        raise BrowserOfferError("the offer has more than one audio section: expected one")
    fields = audio[0].split()
    if len(fields) < 4 or fields[1] == "0":
        raise BrowserOfferError(f"the offer's audio section is disabled or malformed: {audio[0]!r}")
    section = offer_sdp.split("m=audio ", 1)[1].split("\nm=", 1)[0]
    for direction in ("recvonly", "sendonly", "inactive"):
        if f"a={direction}" in section.split():
            raise BrowserOfferError(
                f"the offer's audio is {direction}: expected sendrecv, the agent both speaks and "
                "hears (recvonly: no microphone track, was permission denied?)"
            )
    if not _FINGERPRINT.search(offer_sdp):
        raise BrowserOfferError(
            "the offer has no DTLS fingerprint (a=fingerprint:sha-256 ...): media cannot be secured"
        )
    if not (_ICE_UFRAG.search(offer_sdp) and _ICE_PWD.search(offer_sdp)):
        raise BrowserOfferError("the offer has no ICE credentials (a=ice-ufrag and a=ice-pwd)")
    offered = voice_codecs(offer_sdp)
    codec = next((_CODECS[name] for name in offered if name in _CODECS), None)
    if codec is None:
        raise BrowserOfferError(
            f"no common audio codec: the offer has {', '.join(offered) or 'none'}, "
            f"we take {', '.join(_CODECS)}"
        )
    candidates = candidate_lines(section)
    usable = [c for c in candidates if media.usable(c)]
    if not usable:
        raise BrowserOfferError(_no_candidate_message(candidates, media))
    return keep_candidates(offer_sdp, media.usable), codec


def _no_candidate_message(candidates: list[CandidateLine], media: BrowserMedia) -> str:
    networks = ", ".join(str(n) for n in media.networks)
    if not candidates:
        return (
            "the offer has no ICE candidates: send it after ICE gathering completes "
            "(the server does not take trickled candidates)"
        )
    hidden = sum(c.address.lower().endswith(".local") for c in candidates)
    seen = sorted(
        {f"{c.transport} {c.address}" for c in candidates if not c.address.endswith(".local")}
    )
    parts = []
    if hidden:
        parts.append(f"{hidden} mDNS .local name(s), which the server does not resolve")
    if seen:
        parts.append(", ".join(seen))
    hints = [
        "start Chromium with --allow-loopback-in-peer-connection"
        if ipaddress.ip_address(media.address).is_loopback
        else f"set {NETWORKS_ENV} to the agents' networks"
    ]
    if hidden:
        hints.append("ask for the microphone before offering, so the browser shows real addresses")
    return (
        f"no ICE candidate of the offer is on {networks} (UDP): it has {'; '.join(parts)}; "
        f"{'; '.join(hints)}"
    )


async def answer_browser(
    offer_sdp: str,
    *,
    connect_timeout: float = 10.0,
    media: BrowserMedia | None = None,
    name: str = "",
) -> tuple[Leg, str]:
    """Answer a browser's audio offer: the agent's leg and the answer SDP to send back.

    The leg starts DIALING and turns ANSWERED once ICE and DTLS connect; if they do not within
    ``connect_timeout`` seconds it ends FAILED (:attr:`BrowserLeg.reason` says why).

    Args:
        offer_sdp: the browser's full offer (sent after ICE gathering completed).
        connect_timeout: seconds for ICE and DTLS to connect.
        media: where media flows; :meth:`BrowserMedia.from_env` if None.
        name: what :attr:`Leg.number` holds (an agent has no phone number; "" by default).

    Raises:
        BrowserOfferError: the offer cannot be answered; the message says why.
    """
    media = media or BrowserMedia.from_env()
    sdp, codec = check_offer(offer_sdp, media)
    settings = RtcSettings(
        host=media.address,
        codec=codec,
        connect_timeout=connect_timeout,
        remote_networks=media.networks,
    )
    track = OutboundTrack()
    leg = BrowserLeg(name, RtcPeer(settings, track), track)
    try:
        answer = await leg.peer.answer(sdp)
    except Exception as exc:  # aiortc refusing the browser's text: its parser raises many kinds
        await leg.end(HangupCause.FAILED)
        detail = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__} {exc}"
        raise BrowserOfferError(f"the offer was refused: {detail}") from exc
    except BaseException:
        await leg.end(HangupCause.FAILED)
        raise
    leg.start_media()
    leg.watch_connection()
    return leg, answer
