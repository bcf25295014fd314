"""An agent's browser as a leg: a real aiortc peer stands in for the browser and offers, the
answerer returns the leg; audio flows both ways over ICE, DTLS and SRTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.audio_samples import loud_frames, peak_hz, tone
from voicebot.telephony import (
    CallState,
    Codec,
    HangupCause,
    Leg,
    OutboundTrack,
    PeerLeg,
    RtcPeer,
    RtcSettings,
)
from voicebot.telephony.browser import (
    BrowserLeg,
    BrowserMedia,
    BrowserOfferError,
    answer_browser,
    check_offer,
)
from voicebot.telephony.sdp import candidate_lines, voice_codecs

pytestmark = pytest.mark.integration

CHROMIUM_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 7820469788822401310 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic: WMS 947345e9",
        "m=audio 42148 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 127.0.0.1",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=candidate:1864729082 1 udp 2122194687 127.0.0.1 42148 typ host generation 0",
        "a=candidate:3239583350 1 udp 2122063615 192.0.2.2 32848 typ host generation 0",
        "a=candidate:1111250209 1 udp 2122267903 ::1 35144 typ host generation 0",
        "a=candidate:9 1 udp 2122260223 3f1f7a2c-6b0e-4f7e-9a51-2c3d4e5f6a7b.local 52311 typ host",
        "a=candidate:300573538 1 tcp 1518214911 127.0.0.1 9 typ host tcptype active generation 0",
        "a=ice-ufrag:YoKO",
        "a=ice-pwd:H+++tSaD/Qo4T3ihQsuhDmpd",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 CF:B3:16:27:5B:47:A4:C8:DF:45:D4:C7:5E:DC:B8:16:E8:DA:27:1D:97:42:"
        "0C:CF:C3:C0:25:3C:27:58:5F:1A",
        "a=setup:actpass",
        "a=mid:0",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:63 red/48000/2",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:13 CN/8000",
        "a=rtpmap:110 telephone-event/48000",
        "a=rtpmap:126 telephone-event/8000",
        "",
    ]
)
"""What Chromium offers with a microphone and ``--allow-loopback-in-peer-connection`` (trimmed;
the ``.local`` line is how it hides an address without microphone permission)."""


def candidate_addresses(sdp: str) -> set[str]:
    return {c.address for c in candidate_lines(sdp)}


class Browser:
    """The browser's side: an aiortc peer that offers first, as the console's page does."""

    def __init__(self, codec: Codec) -> None:
        track = OutboundTrack()
        self.leg = PeerLeg("", RtcPeer(RtcSettings(codec=codec), track), track)

    async def connect(self, answer: str) -> None:
        await self.leg.peer.accept(answer)
        self.leg.start_media()
        await self.leg.peer.connected()
        self.leg.set_answered()


@pytest.mark.parametrize("codec", [Codec.OPUS, Codec.PCMU, Codec.PCMA])
async def test_audio_flows_both_ways_and_the_browser_closing_ends_the_leg(codec: Codec) -> None:
    browser = Browser(codec)
    leg: Leg | None = None
    try:
        offer = await browser.leg.peer.offer()
        leg, answer = await answer_browser(offer, connect_timeout=5)
        assert isinstance(leg, BrowserLeg)
        dialing = leg.state
        assert dialing is CallState.DIALING  # not before ICE and DTLS are up
        assert voice_codecs(answer) == [codec.value]
        assert candidate_addresses(answer) == {"127.0.0.1"}
        await browser.connect(answer)
        async with asyncio.timeout(5):
            assert await leg.wait_answered()
        answered = leg.state
        assert answered is CallState.ANSWERED

        # The bot's side (say, the bridged caller) is heard in the browser...
        heard = asyncio.create_task(loud_frames(browser.leg, 10))
        await leg.play(tone(440, 1000))
        async with asyncio.timeout(5):
            pcm = await heard
        assert len(pcm) == 1600 and abs(peak_hz(pcm) - 440) < 15

        # ... and the agent's microphone reaches leg.audio() as 8 kHz frames.
        heard = asyncio.create_task(loud_frames(leg, 10))
        await browser.leg.play(tone(660, 1000))
        async with asyncio.timeout(5):
            pcm = await heard
        assert len(pcm) == 1600 and abs(peak_hz(pcm) - 660) < 15

        await browser.leg.hangup()  # the agent closes the page's peer
        async with asyncio.timeout(5):
            assert await leg.wait_ended() is HangupCause.REMOTE
        assert leg.state is CallState.ENDED
    finally:
        await browser.leg.end(HangupCause.LOCAL)
        if leg is not None:
            await leg.hangup()


async def test_opus_is_chosen_when_the_browser_offers_it_beside_g711() -> None:
    sdp, codec = check_offer(CHROMIUM_OFFER, BrowserMedia())
    assert codec is Codec.OPUS
    assert candidate_addresses(sdp) == {"127.0.0.1"}  # not 192.0.2.2, ::1, .local, or TCP
    assert [c.transport for c in candidate_lines(sdp)] == ["udp"]
    assert "a=end-of-candidates" in sdp.splitlines()  # no trickle: fail fast instead of waiting
    g711_only = re.sub(r"(m=audio \d+ \S+) 111 63 9", r"\1", CHROMIUM_OFFER)
    assert check_offer(g711_only, BrowserMedia())[1] is Codec.PCMU


async def test_hanging_up_our_side_closes_the_browsers_peer() -> None:
    browser = Browser(Codec.OPUS)
    try:
        leg, answer = await answer_browser(await browser.leg.peer.offer(), connect_timeout=5)
        await browser.connect(answer)
        async with asyncio.timeout(5):
            assert await leg.wait_answered()
        await leg.hangup()
        assert leg.cause is HangupCause.LOCAL
        async with asyncio.timeout(5):
            assert await browser.leg.wait_ended() is HangupCause.REMOTE
    finally:
        await browser.leg.end(HangupCause.LOCAL)


async def test_a_browser_that_never_connects_fails_with_a_reason() -> None:
    browser = Browser(Codec.OPUS)
    try:
        leg, _answer = await answer_browser(await browser.leg.peer.offer(), connect_timeout=0.5)
        # The browser never applies the answer, so ICE never completes.
        async with asyncio.timeout(5):
            assert not await leg.wait_answered()
            assert await leg.wait_ended() is HangupCause.FAILED
        assert isinstance(leg, BrowserLeg)
        assert leg.reason is not None and "did not connect" in leg.reason
        assert "not connected after 0.5 s" in leg.reason
    finally:
        await browser.leg.end(HangupCause.LOCAL)


def _edit(old: str, new: str) -> str:
    assert old in CHROMIUM_OFFER
    return CHROMIUM_OFFER.replace(old, new)


_ONLY_MDNS = "\r\n".join(
    line
    for line in CHROMIUM_OFFER.split("\r\n")
    if not line.startswith("a=candidate:") or ".local" in line
)


_OFF_NETWORK = "\r\n".join(
    line
    for line in CHROMIUM_OFFER.split("\r\n")
    if "127.0.0.1 42148" not in line and ".local" not in line
)


@pytest.mark.parametrize(
    ("offer", "message"),
    [
        ("", r"the offer is empty"),
        ("hello", r"not an SDP \(it must start with 'v=0'\)"),
        ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", r"no audio \(no 'm=audio' line\)"),
        (_edit("m=audio 42148", "m=audio 0"), r"audio section is disabled"),
        (_edit("a=sendrecv", "a=recvonly"), r"audio is recvonly: expected sendrecv.*microphone"),
        (_edit("a=sendrecv", "a=sendonly"), r"audio is sendonly: expected sendrecv"),
        (
            re.sub(r"(m=audio \d+ \S+) .*", r"\1 9 13", CHROMIUM_OFFER),
            r"no common audio codec: the offer has g722, we take pcmu, pcma, opus",
        ),
        (
            _ONLY_MDNS,
            r"no ICE candidate of the offer is on 127\.0\.0\.0/8 \(UDP\): it has 1 mDNS \.local "
            r"name\(s\).*--allow-loopback-in-peer-connection; ask for the microphone",
        ),
        (
            _OFF_NETWORK,
            r"\(UDP\): it has tcp 127\.0\.0\.1, udp 192\.0\.2\.2, udp ::1; start Chromium with "
            r"--allow-loopback-in-peer-connection$",
        ),
        (
            "\r\n".join(x for x in CHROMIUM_OFFER.split("\r\n") if "candidate" not in x),
            r"no ICE candidates: send it after ICE gathering completes",
        ),
        (_edit("a=fingerprint:sha-256", "a=fingerprint:nonsense"), r"no DTLS fingerprint"),
        (_edit("a=ice-ufrag:YoKO\r\n", ""), r"no ICE credentials \(a=ice-ufrag and a=ice-pwd\)"),
        (_edit("a=setup:actpass", "a=setup:sideways"), r"the offer was refused: \w+ 'sideways'"),
    ],
    ids=[
        "empty", "not-sdp", "no-audio", "port-0", "recvonly", "sendonly", "no-codec", "only-mdns",
        "other-networks", "no-candidates", "bad-fingerprint", "no-ice-credentials",
        "bad-dtls-role",
    ],
)  # fmt: skip
async def test_unusable_offers_are_refused_with_a_specific_error(offer: str, message: str) -> None:
    with pytest.raises(BrowserOfferError, match=message):
        await answer_browser(offer, media=BrowserMedia())


def test_media_settings_come_from_the_environment() -> None:
    assert BrowserMedia.from_env({}) == BrowserMedia("127.0.0.1")
    lan = BrowserMedia.from_env(
        {
            "VOICEBOT_MEDIA_ADDRESS": "10.8.0.1",
            "VOICEBOT_MEDIA_NETWORKS": "10.8.0.0/16, 10.9.0.0/16",
        }
    )
    assert lan.address == "10.8.0.1" and [str(n) for n in lan.networks] == [
        "10.8.0.0/16",
        "10.9.0.0/16",
    ]
    sdp, _codec = check_offer(CHROMIUM_OFFER.replace("192.0.2.2", "10.8.3.4"), lan)
    assert candidate_addresses(sdp) == {"10.8.3.4"}
    assert [str(n) for n in BrowserMedia("192.0.2.10").networks] == ["0.0.0.0/0"]
    with pytest.raises(ValueError, match=r"VOICEBOT_MEDIA_ADDRESS: media address 'lan'"):
        BrowserMedia.from_env({"VOICEBOT_MEDIA_ADDRESS": "lan"})
    with pytest.raises(ValueError, match=r"VOICEBOT_MEDIA_NETWORKS: '10.8/x' is not a network"):
        BrowserMedia.from_env({"VOICEBOT_MEDIA_NETWORKS": "10.8/x"})
