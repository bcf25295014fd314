"""RFC 4733 telephone-event: the payload, the send and receive hooks, and digits both ways
between two real aiortc peers."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np
import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from voicebot.audio import rms_dbfs
from voicebot.telephony import rfc4733
from voicebot.telephony.leg import DtmfEvent, LegStateError
from voicebot.telephony.peerleg import PeerLeg
from voicebot.telephony.rtc import Codec, RtcPeer, RtcSettings
from voicebot.telephony.tracks import OutboundTrack

SSRC = 0x11223344


def test_payload_round_trip_and_layout() -> None:
    payload = rfc4733.EventPayload(event=11, end=True, volume=10, duration=800)
    assert payload.pack() == bytes([11, 0x80 | 10, 0x03, 0x20])
    assert rfc4733.EventPayload.parse(payload.pack()) == payload
    with pytest.raises(ValueError, match="payload of 3 bytes: expected 4"):
        rfc4733.EventPayload.parse(b"\x01\x02\x03")
    with pytest.raises(ValueError, match="volume 64: expected 0-63"):
        rfc4733.EventPayload(event=1, end=False, volume=64, duration=0)


def test_digit_codes() -> None:
    assert [rfc4733.digit_code(d) for d in "0123456789*#"] == list(range(12))
    with pytest.raises(ValueError, match="DTMF digit 'A'"):
        rfc4733.digit_code("A")


def _extension_map() -> HeaderExtensionsMap:
    mapping = HeaderExtensionsMap()
    mid = RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid")
    mapping.configure(RTCRtpParameters(headerExtensions=[mid]))
    return mapping


def _audio_packet(i: int, mapping: HeaderExtensionsMap) -> bytes:
    packet = RtpPacket(payload_type=0, sequence_number=1000 + i, timestamp=5000 + 160 * i)
    packet.ssrc = SSRC
    packet.payload = bytes([0xFF]) * 160
    packet.extensions.mid = "0"
    return packet.serialize(mapping)


async def test_sender_turns_audio_slots_into_an_event_with_three_end_packets() -> None:
    wire: list[bytes] = []

    async def send_rtp(data: bytes) -> None:
        wire.append(data)

    sender = SimpleNamespace(_ssrc=SSRC, transport=SimpleNamespace(_send_rtp=send_rtp))
    events = rfc4733.EventSender(sender, payload_type=101)  # type: ignore[arg-type]
    mapping = _extension_map()
    sending = asyncio.create_task(events.send("5", duration_ms=60, gap_ms=60))
    await asyncio.sleep(0)
    for i in range(11):
        await sender.transport._send_rtp(_audio_packet(i, mapping))
        for _ in range(3):
            await asyncio.sleep(0)
        assert sending.done() == (i >= 8)  # done once tone, three ends and the gap are out
    packets = [RtpPacket.parse(data, mapping) for data in wire]
    assert [p.sequence_number for p in packets] == list(range(1000, 1011))
    assert all(p.extensions.mid == "0" for p in packets)
    assert [p.payload_type for p in packets] == [101] * 6 + [0] * 5
    assert [p.marker for p in packets[:6]] == [1, 0, 0, 0, 0, 0]
    assert {p.timestamp for p in packets[:6]} == {5000}
    assert [p.timestamp for p in packets[6:]] == [5000 + 160 * i for i in range(6, 11)]
    parsed = [rfc4733.EventPayload.parse(p.payload) for p in packets[:6]]
    assert [(e.event, e.end, e.duration) for e in parsed] == [
        (5, False, 160),
        (5, False, 320),
        (5, False, 480),
        (5, True, 480),
        (5, True, 480),
        (5, True, 480),
    ]


async def test_cancelled_send_still_ends_the_digit_under_way() -> None:
    wire: list[bytes] = []

    async def send_rtp(data: bytes) -> None:
        wire.append(data)

    sender = SimpleNamespace(_ssrc=SSRC, transport=SimpleNamespace(_send_rtp=send_rtp))
    events = rfc4733.EventSender(sender, payload_type=101)  # type: ignore[arg-type]
    mapping = _extension_map()
    sending = asyncio.create_task(events.send("12", duration_ms=100, gap_ms=0))
    await asyncio.sleep(0)
    await sender.transport._send_rtp(_audio_packet(0, mapping))
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    for i in range(1, 10):
        await sender.transport._send_rtp(_audio_packet(i, mapping))
    packets = [RtpPacket.parse(data, mapping) for data in wire]
    events_sent = [rfc4733.EventPayload.parse(p.payload) for p in packets if p.payload_type == 101]
    assert [e.event for e in events_sent] == [1] * 8  # digit 1 finished, digit 2 never began
    assert [e.end for e in events_sent][-3:] == [True] * 3
    assert [p.payload_type for p in packets[8:]] == [0, 0]


async def test_sender_leaves_other_ssrcs_and_rtcp_alone() -> None:
    wire: list[bytes] = []

    async def send_rtp(data: bytes) -> None:
        wire.append(data)

    sender = SimpleNamespace(_ssrc=SSRC + 1, transport=SimpleNamespace(_send_rtp=send_rtp))
    events = rfc4733.EventSender(sender, payload_type=101)  # type: ignore[arg-type]
    sending = asyncio.create_task(events.send("1"))
    await asyncio.sleep(0)
    audio = _audio_packet(0, _extension_map())
    rtcp = bytes([0x81, 203, 0, 1]) + SSRC.to_bytes(4, "big")  # RTCP BYE
    await sender.transport._send_rtp(audio)
    await sender.transport._send_rtp(rtcp)
    assert wire == [audio, rtcp]
    events.cancel()
    with pytest.raises(ConnectionError, match="the call ended before the digits went out"):
        await sending


async def test_sender_refuses_bad_digits_and_durations() -> None:
    async def send_rtp(data: bytes) -> None:
        pass

    sender = SimpleNamespace(_ssrc=SSRC, transport=SimpleNamespace(_send_rtp=send_rtp))
    events = rfc4733.EventSender(sender, payload_type=101)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="DTMF digit 'x'"):
        await events.send("1x")
    with pytest.raises(ValueError, match="duration_ms 20: expected 40-5000"):
        await events.send("1", duration_ms=20)


def _event_packet(ts: int, event: int, end: bool, seq: int) -> RtpPacket:
    packet = RtpPacket(payload_type=101, sequence_number=seq, timestamp=ts, ssrc=SSRC)
    packet.payload = rfc4733.EventPayload(event, end, 10, 160).pack()
    return packet


async def test_receiver_reports_each_event_once_and_passes_audio_on() -> None:
    passed: list[RtpPacket] = []

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        passed.append(packet)

    receiver = SimpleNamespace(_handle_rtp_packet=handle_rtp_packet)
    digits: list[str] = []
    rfc4733.EventReceiver(receiver, 101, digits.append)  # type: ignore[arg-type]
    stream = [
        _event_packet(160, 9, False, 1),
        _event_packet(160, 9, False, 2),
        _event_packet(160, 9, True, 3),
        _event_packet(160, 9, True, 4),
        RtpPacket(payload_type=0, sequence_number=5, timestamp=800, ssrc=SSRC),
        _event_packet(960, 9, True, 6),  # same key again, new event (start packets lost)
        _event_packet(1600, 14, False, 7),  # not a DTMF key: ignored
    ]
    for packet in stream:
        await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
    assert digits == ["9", "9"]
    assert [p.sequence_number for p in passed] == [5]


def test_install_adds_the_codec_once() -> None:
    rfc4733.install()
    rfc4733.install()
    from aiortc.codecs import CODECS

    assert [c.mimeType for c in CODECS["audio"]].count(rfc4733.MIME_TYPE) == 1


async def _connected_pair(codec: Codec) -> tuple[PeerLeg, PeerLeg]:
    legs = []
    for _ in range(2):
        track = OutboundTrack()
        legs.append(PeerLeg("+12025550123", RtcPeer(RtcSettings(codec=codec), track), track))
    a, b = legs
    await a.peer.accept(await b.peer.answer(await a.peer.offer()))
    for leg in legs:
        leg.start_media()
    await asyncio.gather(a.peer.connected(), b.peer.connected())
    for leg in legs:
        leg.set_answered()
    return a, b


async def _collect(leg: PeerLeg, count: int) -> list[str]:
    digits: list[str] = []
    async for event in leg.dtmf():
        assert event.source == "rfc4733"
        digits.append(event.digit)
        if len(digits) == count:
            break
    return digits


async def _loud_frames(leg: PeerLeg, count: int) -> int:
    loud = seen = 0
    async for frame in leg.audio():
        loud += rms_dbfs(frame) > -30
        seen += 1
        if seen == count:
            break
    return loud


@pytest.mark.integration
async def test_digits_both_ways_between_two_aiortc_peers() -> None:
    a, b = await _connected_pair(Codec.PCMU)
    try:
        assert a.rfc4733 and b.rfc4733
        to_b = asyncio.create_task(_collect(b, 12))
        to_a = asyncio.create_task(_collect(a, 3))
        await asyncio.sleep(0)
        await asyncio.gather(a.send_dtmf("0123456789*#"), b.send_dtmf("9#9"))
        async with asyncio.timeout(5):
            assert await to_b == list("0123456789*#")
            assert await to_a == ["9", "#", "9"]
        # the decoder never saw an event packet: audio still flows after the digits
        t = np.arange(8000) / 8000
        tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        listening = asyncio.create_task(_loud_frames(b, 40))
        await a.play(tone)
        async with asyncio.timeout(5):
            assert await listening > 20
    finally:
        await a.hangup()
        await b.hangup()


@pytest.mark.integration
async def test_opus_calls_send_digits_in_band() -> None:
    a, b = await _connected_pair(Codec.OPUS)
    try:
        assert not a.rfc4733
        listening = asyncio.create_task(_loud_frames(b, 15))
        await a.send_dtmf("5")  # 100 ms of tones through Opus
        async with asyncio.timeout(5):
            assert await listening >= 3
    finally:
        await a.hangup()
        await b.hangup()


def test_dtmf_event_validates_the_digit() -> None:
    with pytest.raises(ValueError, match="digit 'A'"):
        DtmfEvent("A", "rfc4733")


@pytest.mark.integration
async def test_digits_cut_by_a_hangup_raise_a_clear_error() -> None:
    a, b = await _connected_pair(Codec.PCMU)
    sending = asyncio.create_task(a.send_dtmf("123456789"))
    await asyncio.sleep(0.3)
    await b.hangup()
    async with asyncio.timeout(5):
        await a.wait_ended()
        with pytest.raises(LegStateError, match="cannot send DTMF: the call ended before"):
            await sending
