"""What happened on a call, in order, with monotonic timestamps: the proof behind every call.

The per-call QA checks (disclosure within 1 s of the answer, do-not-call committed before the
goodbye, ...) are computed from this log alone, so it records facts, not interpretations.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class CallEvent(StrEnum):
    """Kinds of entries in a call's event log."""

    DIAL = "dial"
    RINGING = "ringing"
    ANSWER = "answer"
    AMD = "amd"
    STATE = "state"
    PROMPT_START = "prompt_start"
    PROMPT_END = "prompt_end"
    PROMPT_INTERRUPTED = "prompt_interrupted"
    DIGIT = "digit"
    SPEECH_START = "speech_start"
    SPEECH_END = "speech_end"
    UTTERANCE = "utterance"
    INTENT = "intent"
    NO_INPUT = "no_input"
    TRANSITION = "transition"
    ACTION = "action"
    DNC_COMMITTED = "dnc_committed"
    HANDOFF = "handoff"
    RECORDING = "recording"
    HANGUP = "hangup"
    OUTCOME = "outcome"


@dataclass(frozen=True)
class LogEntry:
    """One fact: seconds since the log started (monotonic), its kind, and details."""

    t: float
    kind: CallEvent
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"t": round(self.t, 4), "kind": self.kind.value, **self.data}


@dataclass
class EventLog:
    """An append-only, in-order record of one call.

    ``clock`` is monotonic (never jumps with NTP); ``started_at`` anchors it to wall time.
    Listeners (a live console view, metrics) are told of every entry as it is added.
    """

    clock: Callable[[], float] = time.monotonic
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    entries: list[LogEntry] = field(default_factory=list)
    listeners: list[Callable[[LogEntry], None]] = field(default_factory=list)
    _origin: float = field(init=False)

    def __post_init__(self) -> None:
        self._origin = self.clock()

    def add(self, kind: CallEvent, **data: Any) -> LogEntry:
        """Record a fact now."""
        entry = LogEntry(self.clock() - self._origin, kind, data)
        self.entries.append(entry)
        for listener in self.listeners:
            listener(entry)
        return entry

    def of(self, kind: CallEvent) -> Iterator[LogEntry]:
        """Entries of one kind, in order."""
        return (e for e in self.entries if e.kind is kind)

    def first(self, kind: CallEvent) -> LogEntry | None:
        """The first entry of a kind, if any."""
        return next(self.of(kind), None)

    def as_list(self) -> list[dict[str, Any]]:
        """JSON-ready entries, in order."""
        return [e.as_dict() for e in self.entries]
