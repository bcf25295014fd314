"""The web console: a JSON API with roles, the agent console page, admin pages and metrics.

Build the app with :func:`create_app`; the call side feeds :class:`HandoffQueue` (found at
``app[HANDOFF_QUEUE]``) and reads the :class:`PresenceBoard` (``app[PRESENCE]``).
"""

from voicebot.handoff import HandoffOffer, HandoffQueue, MemoryHandoffQueue, PresenceBoard
from voicebot.web.app import WebConfig, create_app
from voicebot.web.keys import HANDOFF_QUEUE, PRESENCE

__all__ = [
    "HANDOFF_QUEUE",
    "PRESENCE",
    "HandoffOffer",
    "HandoffQueue",
    "MemoryHandoffQueue",
    "PresenceBoard",
    "WebConfig",
    "create_app",
]
