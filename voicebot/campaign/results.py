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

    @property
    def status(self) -> str:
        """The outcome's name, or ``blocked``."""
        return self.outcome.value if self.outcome is not None else "blocked"


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

    def outcome_counts(self) -> Counter[str]:
        """How many calls ended each way (``blocked`` for gate refusals)."""
        return Counter(c.status for c in self.calls)

    def block_reasons(self) -> Counter[str]:
        """How often each compliance reason blocked a dial."""
        return Counter(reason for c in self.calls for reason in c.blocked)
