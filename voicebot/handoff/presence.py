"""Who is available to take a call: each agent's presence, set from the console.

Presence says what the agent wants (available or away); whether they are free right now (not
ringing, not on a call, not wrapping up) is the :class:`voicebot.handoff.desk.AgentDesk`'s.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace


class Presence(enum.StrEnum):
    """An agent's availability for new handoffs."""

    AVAILABLE = "available"
    AWAY = "away"


STALE_AFTER = dt.timedelta(seconds=60)  # the console polls at least every ~20 s


@dataclass(frozen=True)
class PresenceEntry:
    """An agent's status, when it was set, and when their console was last heard from."""

    status: Presence
    since: dt.datetime
    seen: dt.datetime


class PresenceBoard:
    """Who is available. Agents start ``away``; the console sets ``available`` explicitly.

    An available agent whose console has not polled for :data:`STALE_AFTER` (tab closed, network
    gone) is not offered calls: :meth:`available` leaves them out.
    """

    def __init__(self, stale_after: dt.timedelta = STALE_AFTER) -> None:
        self._entries: dict[str, PresenceEntry] = {}
        self._stale_after = stale_after

    def get(self, agent: str) -> PresenceEntry | None:
        """The agent's entry, or ``None`` if they never set one (counts as away)."""
        return self._entries.get(agent)

    def set(self, agent: str, status: Presence, at: dt.datetime) -> PresenceEntry:
        """Record a status change (same status keeps its original ``since``)."""
        current = self._entries.get(agent)
        since = current.since if current is not None and current.status == status else at
        entry = PresenceEntry(status, since, at)
        self._entries[agent] = entry
        return entry

    def seen(self, agent: str, at: dt.datetime) -> None:
        """The agent's console polled: they are still there."""
        current = self._entries.get(agent)
        if current is not None:
            self._entries[agent] = replace(current, seen=max(current.seen, at))

    def available(self, at: dt.datetime) -> list[str]:
        """Agents who can take a handoff at ``at``, longest-waiting first."""
        ready = [
            (e.since, a)
            for a, e in self._entries.items()
            if e.status is Presence.AVAILABLE and at - e.seen <= self._stale_after
        ]
        return [agent for _, agent in sorted(ready)]
