"""Telephony: the :class:`Leg` a call session drives and the transports that place calls.

Media is aiortc throughout (:mod:`.rtc` makes every peer, :mod:`.tracks` moves 8 kHz frames,
:mod:`.rfc4733` adds DTMF events); :mod:`.loopback` calls simulated people in-process;
:mod:`.browser` answers an agent's browser.
"""

from voicebot.telephony.browser import BrowserMedia, BrowserOfferError, answer_browser
from voicebot.telephony.leg import (
    CallState,
    DtmfEvent,
    HangupCause,
    Leg,
    LegStateError,
    Transport,
    outcome_for,
)
from voicebot.telephony.loopback import (
    Callee,
    CalleeDirectory,
    IncomingCall,
    LoopbackTransport,
    Ring,
    RingAction,
    StaticDirectory,
)
from voicebot.telephony.peerleg import PeerLeg
from voicebot.telephony.rtc import Codec, ConnectError, RtcPeer, RtcSettings
from voicebot.telephony.tracks import InboundReader, OutboundTrack, PlayResult, dtmf_tones

__all__ = [
    "BrowserMedia",
    "BrowserOfferError",
    "CallState",
    "Callee",
    "CalleeDirectory",
    "Codec",
    "ConnectError",
    "DtmfEvent",
    "HangupCause",
    "InboundReader",
    "IncomingCall",
    "Leg",
    "LegStateError",
    "LoopbackTransport",
    "OutboundTrack",
    "PeerLeg",
    "PlayResult",
    "Ring",
    "RingAction",
    "RtcPeer",
    "RtcSettings",
    "StaticDirectory",
    "Transport",
    "answer_browser",
    "dtmf_tones",
    "outcome_for",
]
