"""What the path search works with: where a call can be, what happens in a state, how it is
left, and what the search found. Plain frozen values, so nodes can be compared and hashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voicebot.flow.lint.finding import TraceStep
from voicebot.yamlsource import Path_


@dataclass(frozen=True)
class Node:
    """Where a call can be, with everything the properties depend on."""

    state: str
    disclosed: bool = False
    opted_out: bool = False
    pending: bool = False
    """The caller asked to opt out (9 or the spoken opt-out); ``opt_out`` has not run yet."""
    defined: frozenset[str] = frozenset()
    """Variables a ``set`` action stored on the way here."""
    gone: bool = False
    """The caller hung up: nothing more is heard."""


@dataclass(frozen=True)
class Say:
    """A prompt the callee hears."""

    prompt: str
    path: Path_


@dataclass(frozen=True)
class Listen:
    """The state waits for the caller (a question)."""

    path: Path_


@dataclass(frozen=True)
class Transfer:
    """The caller is put through to an agent queue."""

    path: Path_
    queue: str


@dataclass(frozen=True)
class CallBack:
    """A callback is scheduled."""

    path: Path_


@dataclass(frozen=True)
class OptOut:
    """The number goes on the do-not-call list."""


@dataclass(frozen=True)
class SetVars:
    """Variables stored by a ``set`` action."""

    names: frozenset[str]


Observation = Say | Listen | Transfer | CallBack | OptOut | SetVars


@dataclass(frozen=True)
class Move:
    """The state is left along a route of the compiled table."""

    trigger: str
    event: str
    """The flow-language event (``dtmf.1``, ``no_input``, ``next``, ``no_agent``)."""
    target: str
    path: Path_
    during: str | None = None
    repeat: int = 1
    hangup: bool = False


@dataclass(frozen=True)
class End:
    """The call ends here."""

    why: str
    event: str | None = None
    opts_out: bool = False
    """The runner itself opts out (9 in a flow without an opt-out state)."""


Exit = Move | End


@dataclass(frozen=True)
class Violation:
    """One broken promise, at a place in the flow file, with the shortest path that shows it."""

    rule: str
    path: Path_
    message: str
    trace: tuple[TraceStep, ...]
    prompt: str | None = None
    state: str | None = None


@dataclass
class Exploration:
    """Everything the search found, and the shortest trace to every node it reached."""

    violations: list[Violation] = field(default_factory=list)
    reached: dict[Node, tuple[TraceStep, ...]] = field(default_factory=dict)
    _keys: set[tuple[str, Path_, str]] = field(default_factory=set)

    def add(self, violation: Violation, key: str) -> None:
        """Keep the first (shortest) violation per rule, place and kind (a cycle: per its
        states, wherever it was entered)."""
        k = (violation.rule, () if key.startswith("cycle:") else violation.path, key)
        if k not in self._keys:
            self._keys.add(k)
            self.violations.append(violation)
