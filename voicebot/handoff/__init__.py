"""Warm handoff to people: the queue of waiting calls, agents' presence, and the desk that gives
each call to the longest-idle available agent and follows the agent to the wrap-up."""

from voicebot.handoff.desk import Activity, AgentCall, AgentDesk, DeskError, DispositionRecord
from voicebot.handoff.presence import Presence, PresenceBoard
from voicebot.handoff.queue import HandoffOffer, HandoffQueue, MemoryHandoffQueue, agent_view

__all__ = [
    "Activity",
    "AgentCall",
    "AgentDesk",
    "DeskError",
    "DispositionRecord",
    "HandoffOffer",
    "HandoffQueue",
    "MemoryHandoffQueue",
    "Presence",
    "PresenceBoard",
    "agent_view",
]
