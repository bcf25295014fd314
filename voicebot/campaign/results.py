"""A campaign's results as plain values: what the summary, the exports and the report show.

Numbers arrive here already masked unless the viewer may see them; this module never masks
or unmasks, so nothing downstream can leak what it was not given.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from voicebot.outcomes import Outcome


@dataclass(frozen=True)
class TimelineEntry:
    """One moment of a call, seconds after the dial."""

    t: float
    kind: str
    text: str = ""


@dataclass(frozen=True)
class CallResult:
    """One contact's attempt: dialled with an outcome, or blocked by the gate with reasons."""

    number: str
    label: str
    at: datetime
    outcome: Outcome | None = None
    talk_seconds: float = 0.0
    blocked: tuple[str, ...] = ()
    not_before: datetime | None = None
    timeline: tuple[TimelineEntry, ...] = ()
    qa_failures: tuple[str, ...] = ()
    zone: str | None = None
    """The callee's time zone (IANA name), so the report can show the local time."""
    expected: str | None = None
    """The demo: what this contact should have become (None outside the demo)."""
    as_expected: bool | None = None
    """The demo: whether it did."""

    @property
    def status(self) -> str:
        """The outcome's name, or ``blocked``."""
        return self.outcome.value if self.outcome is not None else "blocked"

    @property
    def handoff_without_agent(self) -> bool:
        """The call asked for an agent and none took it (the flow fell back)."""
        return any(e.kind == "handoff" and "accepted=False" in e.text for e in self.timeline)

    @property
    def shown_status(self) -> str:
        """The status as the report names it: ``handoff (no agent)`` says what happened."""
        if self.handoff_without_agent:
            if self.outcome is Outcome.HANDOFF:
                return "handoff (no agent)"
            return f"handoff (no agent) -> {self.status}"
        return self.status


@dataclass(frozen=True)
class PendingContact:
    """A contact still planned when the report was written (a retry, a callback, a first try)."""

    number: str
    label: str
    due_at: datetime | None
    why: str


@dataclass
class CampaignResults:
    """Everything a report needs about one campaign run."""

    name: str
    flow: str
    purpose: str
    started_at: datetime
    finished_at: datetime | None = None
    calls: list[CallResult] = field(default_factory=list)
    import_problems: list[str] = field(default_factory=list)
    dev_override: bool = False
    blocks: Counter[str] | None = None
    """Blocked dials per reason as the store's audit counts them (None: from this run's calls)."""
    pending: list[PendingContact] = field(default_factory=list)
    """Contacts not done yet: the campaign has stopped, not finished, while any remain."""

    @property
    def finished(self) -> bool:
        """Every contact is done (none waits for a retry, a callback or a first call)."""
        return not self.pending

    def outcome_counts(self) -> Counter[str]:
        """How many calls ended each way (``blocked`` for gate refusals)."""
        return Counter(c.status for c in self.calls)

    def block_reasons(self) -> Counter[str]:
        """How often each compliance reason blocked a dial: the store's count when known."""
        if self.blocks is not None:
            return self.blocks
        return Counter(reason for c in self.calls for reason in c.blocked)

    def rates(self) -> dict[str, float]:
        """Shares of the dialled calls: answered, and of those answered, opted out, refused,
        handed off (0.0 when nothing was dialled or answered)."""
        dialled = [c for c in self.calls if c.outcome is not None]
        answered = [c for c in dialled if c.outcome not in _NOT_ANSWERED]

        def share(part: int, whole: int) -> float:
            return part / whole if whole else 0.0

        def count(*outcomes: Outcome) -> int:
            return sum(1 for c in answered if c.outcome in outcomes)

        return {
            "answer": share(len(answered), len(dialled)),
            "opt-out": share(count(Outcome.OPTED_OUT), len(answered)),
            "refusal": share(count(Outcome.REFUSED), len(answered)),
            "handoff": share(
                sum(1 for c in answered if c.outcome is Outcome.HANDOFF or c.handoff_without_agent),
                len(answered),
            ),
        }


_NOT_ANSWERED = frozenset(
    {Outcome.NO_ANSWER, Outcome.BUSY, Outcome.REJECTED, Outcome.FAILED, Outcome.VOICEMAIL}
)
