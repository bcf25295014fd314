"""What an SDP says about audio codecs, read without trusting the far end to be complete.

Used wherever an answer is applied: aiortc accepts an answer whose only codec in common with our
offer is telephone-event, then has nothing to send audio with; we refuse such an answer first.
"""

from __future__ import annotations

import re

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
