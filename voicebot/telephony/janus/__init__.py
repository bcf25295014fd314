"""The Janus SIP gateway transport: calling real phones from aiortc through Janus's SIP plugin.

:mod:`.client` speaks Janus's REST API, :mod:`.config` holds the gateway settings,
:mod:`.events` maps SIP plugin events onto causes and digits, :mod:`.transport` places calls,
:mod:`.call` drives each call's leg (:mod:`.leg`) from its events.
"""

from voicebot.telephony.janus.client import JanusError, JanusSession, JanusUnavailable
from voicebot.telephony.janus.config import AccountKind, JanusConfig
from voicebot.telephony.janus.leg import JanusLeg
from voicebot.telephony.janus.transport import JanusTransport

__all__ = [
    "AccountKind",
    "JanusConfig",
    "JanusError",
    "JanusLeg",
    "JanusSession",
    "JanusTransport",
    "JanusUnavailable",
]
