"""What the lint reports: one problem, its rule, its severity and where it is.

A finding is a plain value so the CLI can print it as ``file:line:col: rule: message`` (for
editors and grep) or as JSON (for CI annotations) without knowing any rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """Errors fail the lint; warnings fail it only with ``--strict``."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class TraceStep:
    """One step of a counterexample: the caller's (or the call's) ``event``, and the state the
    call is in after it.

    ``event`` is an entry (``start``, ``voicemail``) for the first step, else a flow event
    (``dtmf.1``, ``intent.refuse``, ``no_input``, ``no_match``, ``hangup``), ``next``, or
    ``no_agent`` (a handoff nobody accepted). ``during`` names the prompt a barge-in cut;
    ``repeat`` counts silences or misheard answers through a state's retries.
    """

    event: str
    state: str
    during: str | None = None
    repeat: int = 1

    def __str__(self) -> str:
        event = self.event if self.repeat == 1 else f"{self.event} x{self.repeat}"
        if self.during is not None:
            event += f" during {self.during!r}"
        return f"--{event}--> {self.state}"

    def as_dict(self) -> dict[str, str | int | None]:
        """A JSON-ready mapping."""
        return {
            "event": self.event,
            "state": self.state,
            "during": self.during,
            "repeat": self.repeat,
        }


def render_trace(trace: tuple[TraceStep, ...]) -> str:
    """``start: ask --dtmf.1--> pitch --no_input x3--> bye``."""
    if not trace:
        return ""
    first, *rest = trace
    return " ".join([f"{first.event}: {first.state}", *(str(step) for step in rest)])


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in a flow (or in the prompts it uses), pinned to a 1-based line and column."""

    file: str
    line: int
    col: int
    rule: str
    severity: Severity
    message: str
    trace: tuple[TraceStep, ...] = field(default=(), compare=False)
    """The shortest path that shows the problem (empty for findings about the text)."""

    @property
    def text(self) -> str:
        """The message, with the counterexample path when there is one."""
        if not self.trace:
            return self.message
        return f"{self.message}; path: {render_trace(self.trace)}"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        if self.severity is Severity.WARNING:
            return f"{where}: {self.rule}: warning: {self.text}"
        return f"{where}: {self.rule}: {self.text}"

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready mapping (``severity`` as its string value, ``path`` the trace)."""
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "path": [step.as_dict() for step in self.trace],
            "path_text": render_trace(self.trace),
        }
