"""RFC 4733 telephone-event (DTMF over RTP) for aiortc, which has none.

aiortc neither offers ``audio/telephone-event`` nor keeps packets of payload types it cannot
decode, and it has no way to send them. Phones and SIP gateways (Janus relays these packets
untouched) expect them, so this module adds the smallest extension that makes them work:

* :func:`install` registers ``telephone-event/8000`` (PT 101) in aiortc's codec table, so that it
  can be offered and accepted. Only peers whose codec preferences name it (see
  :mod:`voicebot.telephony.rtc`) negotiate it; it is never the first (sending) codec.
* :class:`EventReceiver` diverts packets of the negotiated event payload type from one
  ``RTCRtpReceiver`` before they reach its jitter buffer and decoder, and turns them into digits.
* :class:`EventSender` rewrites the sender's own outgoing audio packets, one 20 ms slot at a time,
  into event packets (same SSRC, same sequence numbering, the event's start timestamp), then sends
  the end packet three times. Audio is suppressed while a digit is sent, as RFC 4733 allows.

Both hooks are instance attributes on one receiver and one DTLS transport: nothing of aiortc's
classes is changed, and peers without the hooks are untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import CODECS
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.rtp import RtpPacket, is_rtcp
from aiortc.sdp import SessionDescription

MIME_TYPE = "audio/telephone-event"
CLOCK_RATE = 8000
PAYLOAD_TYPE = 101
EVENT_CODEC = RTCRtpCodecParameters(
    mimeType=MIME_TYPE,
    clockRate=CLOCK_RATE,
    channels=1,
    payloadType=PAYLOAD_TYPE,
    parameters={"0-15": None},
)
"""The codec as offered: ``a=rtpmap:101 telephone-event/8000`` and ``a=fmtp:101 0-15``."""

EVENT_CAPABILITY = RTCRtpCodecCapability(
    mimeType=MIME_TYPE, clockRate=CLOCK_RATE, channels=1, parameters={"0-15": None}
)
"""What to put in ``setCodecPreferences`` (after the audio codec) to negotiate events."""

DIGITS = "0123456789*#"
"""Event codes 0-11 in order: 0-9, then ``*`` = 10 and ``#`` = 11."""

END_REPEATS = 3
SLOT_TICKS = 160
"""RTP clock ticks per 20 ms packet slot at 8 kHz."""

DEFAULT_VOLUME = 10
"""Power level in -dBm0 (0-63); 10 is what most phones send."""

_HEADER = struct.Struct("!BBH")


def install() -> None:
    """Make aiortc able to offer and accept telephone-event (idempotent)."""
    audio = CODECS["audio"]
    if not any(c.mimeType.lower() == MIME_TYPE for c in audio):
        audio.append(EVENT_CODEC)


def digit_code(digit: str) -> int:
    """The event code of ``digit`` (0-9, ``*``, ``#``)."""
    code = DIGITS.find(digit)
    if len(digit) != 1 or code < 0:
        raise ValueError(f"DTMF digit {digit!r}: expected one of {DIGITS}")
    return code


@dataclass(frozen=True, slots=True)
class EventPayload:
    """One RFC 4733 payload (section 2.3): event code, end bit, volume, duration in ticks."""

    event: int
    end: bool
    volume: int
    duration: int

    def __post_init__(self) -> None:
        if not 0 <= self.event <= 255:
            raise ValueError(f"event code {self.event}: expected 0-255")
        if not 0 <= self.volume <= 63:
            raise ValueError(f"volume {self.volume}: expected 0-63 (-dBm0)")
        if not 0 <= self.duration <= 0xFFFF:
            raise ValueError(f"duration {self.duration}: expected 0-65535 ticks")

    def pack(self) -> bytes:
        """The 4 bytes on the wire."""
        return _HEADER.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)

    @classmethod
    def parse(cls, data: bytes) -> EventPayload:
        """Read the first 4 bytes of an event packet's payload."""
        if len(data) < 4:
            raise ValueError(f"telephone-event payload of {len(data)} bytes: expected 4")
        event, flags, duration = _HEADER.unpack_from(data)
        return cls(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)


def negotiated_payload_type(pc: RTCPeerConnection) -> int | None:
    """The telephone-event payload type both descriptions agree on, or None.

    An answer only lists codecs both sides accepted, and the answerer adopts the offerer's
    dynamic payload type, so the type in the remote description is the one on the wire.
    """
    local, remote = pc.localDescription, pc.remoteDescription
    if local is None or remote is None:
        return None
    ours = _event_payload_types(local.sdp)
    theirs = _event_payload_types(remote.sdp)
    return theirs[0] if ours and theirs else None


def _event_payload_types(sdp: str) -> list[int]:
    description = SessionDescription.parse(sdp)
    return [
        codec.payloadType
        for media in description.media
        if media.kind == "audio"
        for codec in media.rtp.codecs
        if codec.mimeType.lower() == MIME_TYPE and codec.payloadType is not None
    ]


class EventReceiver:
    """Takes a receiver's telephone-event packets away from its decoder and reports digits.

    One event spans many packets with the same RTP timestamp (updates, then three end packets);
    the digit is reported once, on the first packet seen, so that "press 9 to opt out" acts at
    once even if the end packets are lost.
    """

    def __init__(
        self, receiver: RTCRtpReceiver, payload_type: int, on_digit: Callable[[str], None]
    ) -> None:
        self._payload_type = payload_type
        self._on_digit = on_digit
        self._last: tuple[int, int] | None = None  # (ssrc, timestamp) of the last event
        original = receiver._handle_rtp_packet

        async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
            if packet.payload_type == self._payload_type:
                self.handle(packet)
            else:
                await original(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]

    def handle(self, packet: RtpPacket) -> None:
        """Report the digit of a new event; ignore updates, repeats and unknown codes."""
        try:
            payload = EventPayload.parse(packet.payload)
        except ValueError:
            return
        key = (packet.ssrc, packet.timestamp)
        if key == self._last:
            return
        self._last = key
        if payload.event < len(DIGITS):
            self._on_digit(DIGITS[payload.event])


@dataclass(slots=True)
class _Job:
    digit: int
    volume: int
    slots: int  # packets of the tone before the end packets
    gap: int  # audio slots left untouched after the end packets
    done: asyncio.Future[None] | None  # on the last digit of one send() only
    sent: int = 0
    ends: int = 0
    start_ts: int | None = None
    duration: int = 0


class EventSender:
    """Sends digits as RFC 4733 events in place of a sender's audio packets.

    The hook sits on the DTLS transport's ``_send_rtp`` (an instance attribute, chained if
    several senders share the transport) and only touches packets carrying this sender's SSRC
    while a digit is pending. Pacing therefore follows the audio track: one event packet per
    20 ms slot, which also keeps sequence numbers and timestamps consistent for the far end.
    """

    def __init__(self, sender: RTCRtpSender, payload_type: int) -> None:
        self._payload_type = payload_type
        self._ssrc = struct.pack("!I", sender._ssrc)
        self._jobs: list[_Job] = []
        transport: Any = sender.transport
        original: Callable[[bytes], Awaitable[None]] = transport._send_rtp

        async def send_rtp(data: bytes) -> None:
            if self._jobs and len(data) >= 12 and not is_rtcp(data) and data[8:12] == self._ssrc:
                with contextlib.suppress(ValueError):  # not RTP we understand: leave it be
                    data = self._rewrite(data)
            await original(data)

        transport._send_rtp = send_rtp

    async def send(
        self, digits: str, duration_ms: int = 100, gap_ms: int = 60, volume: int = DEFAULT_VOLUME
    ) -> None:
        """Send ``digits`` one after another; returns once the last end packet went out.

        Raises:
            ValueError: a character is not a DTMF digit, or a duration is out of range.
            ConnectionError: the call ended before every digit went out.
        """
        codes = [digit_code(d) for d in digits]
        if not 40 <= duration_ms <= 5000:
            raise ValueError(f"duration_ms {duration_ms}: expected 40-5000 (Q.24 minimum 40 ms)")
        if not 0 <= gap_ms <= 5000:
            raise ValueError(f"gap_ms {gap_ms}: expected 0-5000")
        if not 0 <= volume <= 63:
            raise ValueError(f"volume {volume}: expected 0-63 (-dBm0)")
        if not codes:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        jobs = [_Job(code, volume, max(1, duration_ms // 20), gap_ms // 20, None) for code in codes]
        jobs[-1].done = done
        self._jobs.extend(jobs)
        try:
            await done
        finally:  # cancelled: a digit already started still gets its end packets
            for job in jobs:
                if job in self._jobs and job.start_ts is None:
                    self._jobs.remove(job)

    def cancel(self) -> None:
        """Drop pending digits (the call is ending): their senders get ConnectionError."""
        for job in self._jobs:
            if job.done is not None and not job.done.done():
                job.done.set_exception(ConnectionError("the call ended before the digits went out"))
        self._jobs.clear()

    def _rewrite(self, data: bytes) -> bytes:
        job = self._jobs[0]
        if job.ends >= END_REPEATS:  # inter-digit gap: plain audio goes out
            job.gap -= 1
            if job.gap <= 0:
                self._finish(job)
            return data
        header_len = _header_length(data)
        timestamp = int.from_bytes(data[4:8], "big")
        marker = 0
        if job.start_ts is None:
            job.start_ts, marker = timestamp, 0x80
        if job.sent < job.slots:
            job.sent += 1
            job.duration = min(0xFFFF, (timestamp - job.start_ts) % (1 << 32) + SLOT_TICKS)
            end = False
        else:
            job.ends += 1
            end = True
        payload = EventPayload(job.digit, end, job.volume, job.duration).pack()
        header = bytearray(data[:header_len])
        header[0] &= 0xDF  # no padding in the rewritten packet
        header[1] = marker | self._payload_type
        header[4:8] = job.start_ts.to_bytes(4, "big")
        if job.ends >= END_REPEATS and job.gap <= 0:
            self._finish(job)
        return bytes(header) + payload

    def _finish(self, job: _Job) -> None:
        self._jobs.remove(job)
        if job.done is not None and not job.done.done():
            job.done.set_result(None)


def _header_length(data: bytes) -> int:
    """Length of an RTP header with its CSRCs and header extension (RFC 3550 5.1, 5.3.1)."""
    length = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        words = int.from_bytes(data[length + 2 : length + 4], "big")
        length += 4 + 4 * words
    if length > len(data):
        raise ValueError("truncated RTP header")
    return length
