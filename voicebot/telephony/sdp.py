"""What an SDP says about audio codecs and ICE candidates, read without trusting the far end.

Used wherever an answer is applied: aiortc accepts an answer whose only codec in common with our
offer is telephone-event, then has nothing to send audio with; we refuse such an answer first.
A browser's offer lists candidates on every interface it has; :func:`keep_candidates` leaves only
those media may use, before aiortc ever tries them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_STATIC_PAYLOADS = {"0": "pcmu", "8": "pcma", "9": "g722"}
_RTPMAP = re.compile(r"^a=rtpmap:(\d+)\s+([^/\s]+)/", re.MULTILINE)


def audio_codecs(sdp: str) -> list[str]:
    """The audio codecs an SDP's first ``m=audio`` line names, lower case, in order.

    Static payload types count even without an ``a=rtpmap`` line (``0`` is PCMU, ``8`` PCMA), as
    many phones omit it. Used to catch a far end answering a codec we never offered: aiortc would
    otherwise settle on telephone-event alone and send nothing.
    """
    section = sdp.split("m=audio", 1)
    if len(section) < 2:
        return []
    media = section[1].split("\nm=", 1)[0]
    payloads = media.split("\n", 1)[0].split()[2:]
    names = {pt: name.lower() for pt, name in _RTPMAP.findall(media)}
    return [names.get(pt) or _STATIC_PAYLOADS.get(pt, f"pt{pt}") for pt in payloads]


NON_AUDIO = frozenset({"telephone-event", "cn"})
"""Payloads that carry no voice: events and comfort noise."""


def voice_codecs(sdp: str) -> list[str]:
    """The codecs of :func:`audio_codecs` that carry voice."""
    return [c for c in audio_codecs(sdp) if c not in NON_AUDIO]


_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ (\S+) \d+ (\S+) \d+ typ \S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CandidateLine:
    """One ``a=candidate`` line of an SDP, as far as choosing where media may flow needs it.

    Attributes:
        line: the line itself, without its line ending.
        transport: ``udp`` or ``tcp``, lower case.
        address: an IP literal, or a hostname (browsers hide host IPs behind mDNS ``.local``).
    """

    line: str
    transport: str
    address: str


def candidate_lines(sdp: str) -> list[CandidateLine]:
    """Every ``a=candidate`` line of ``sdp``, in order (malformed ones are left out)."""
    found = []
    for line in sdp.splitlines():
        match = _CANDIDATE.match(line)
        if match:
            found.append(CandidateLine(line, match.group(1).lower(), match.group(2)))
    return found


def keep_candidates(sdp: str, keep: Callable[[CandidateLine], bool]) -> str:
    """``sdp`` with only the candidates ``keep`` accepts, and nothing more to come.

    Each media section that keeps a candidate gets ``a=end-of-candidates`` (RFC 8840): the offer
    was sent after gathering completed, so ICE may fail at once when no pair works instead of
    waiting for candidates that will never be trickled. Line endings become CRLF.
    """
    out: list[str] = []
    section_kept = section_ended = False

    def close_section() -> None:
        if section_kept and not section_ended:
            out.append("a=end-of-candidates")

    for line in sdp.splitlines():
        if line.startswith("m="):
            close_section()
            section_kept = section_ended = False
        elif line.strip() == "a=end-of-candidates":
            section_ended = True
        else:
            match = _CANDIDATE.match(line)
            if match:
                if not keep(CandidateLine(line, match.group(1).lower(), match.group(2))):
                    continue
                section_kept = True
        out.append(line)
    close_section()
    return "\r\n".join(out) + "\r\n"
