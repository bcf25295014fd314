"""How a flow moves between states, as the lint and the graph both need to see it.

One place answers "where can the call go from here, and on what?", so that reachability,
the disclosure walk and the Mermaid edges cannot disagree about the language's semantics:
a listening state hears its own ``on`` merged over the global ``handlers``; ``next`` moves on
after the prompts; a handoff nobody accepts goes to its ``fallback``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from voicebot.flow.model import Flow, State


class EdgeKind(StrEnum):
    """Why the call moves along an edge."""

    NEXT = "next"
    """``next``: after the state's prompts."""
    ON = "on"
    """An event in the state's own ``on``."""
    HANDLER = "handler"
    """An event of the flow's global ``handlers``, heard in every listening state."""
    FALLBACK = "fallback"
    """A handoff nobody accepted."""


@dataclass(frozen=True)
class Edge:
    """One way from ``source`` to ``target``; ``event`` is set for ON and HANDLER edges."""

    source: str
    target: str
    kind: EdgeKind
    event: str | None = None
    path: tuple[str | int, ...] = ()
    """Where the edge is written in the flow file."""


def edges_from(flow: Flow, name: str) -> Iterator[Edge]:
    """Every edge out of state ``name``: handoff fallbacks, events, then ``next``."""
    state = flow.states[name]
    for i, action in enumerate(state.do):
        if action.handoff is not None and action.handoff.fallback is not None:
            path = ("states", name, "do", i, "handoff", "fallback")
            yield Edge(name, action.handoff.fallback, EdgeKind.FALLBACK, None, path)
    for event, target in flow.transitions_of(name).items():
        if event in state.on:
            yield Edge(name, target, EdgeKind.ON, event, ("states", name, "on", event))
        else:
            yield Edge(name, target, EdgeKind.HANDLER, event, ("handlers", event))
    if state.next is not None:
        yield Edge(name, state.next, EdgeKind.NEXT, None, ("states", name, "next"))


def reachable(flow: Flow) -> list[str]:
    """States reachable from ``start`` (or the ``voicemail`` entry), in breadth-first order."""
    order = [flow.start]
    if flow.voicemail is not None and flow.voicemail != flow.start:
        order.append(flow.voicemail)
    seen = set(order)
    queue = deque(order)
    while queue:
        for edge in edges_from(flow, queue.popleft()):
            if edge.target in flow.states and edge.target not in seen:
                seen.add(edge.target)
                order.append(edge.target)
                queue.append(edge.target)
    return order


def listening(flow: Flow) -> list[str]:
    """Names of the states that listen, in file order."""
    return [name for name, state in flow.states.items() if state.listen is not None]


def heard_events(flow: Flow, state: State) -> set[str]:
    """Events a state can hear.

    A listening state hears the digits of ``listen.dtmf``, the intents of ``listen.intents``,
    ``no_input``, ``no_match`` and ``hangup``, and every event of the global ``handlers``
    (those are listened for everywhere, so "9" works even when ``listen.dtmf`` omits it).
    A state that does not listen hears only ``hangup``.
    """
    if state.listen is None:
        return {"hangup"}
    events = {"no_input", "no_match", "hangup", *flow.handlers}
    events.update(f"dtmf.{digit}" for digit in state.listen.dtmf)
    events.update(f"intent.{intent}" for intent in state.listen.intents)
    return events


def opts_out_first(flow: Flow, name: str) -> str | None:
    """Whether entering ``name`` runs ``opt_out`` before anything is said or done to the call.

    Follows silent ``next`` hops (states that only ``set`` or ``callback``). Returns None when
    it does, else why not, for a lint message.
    """
    seen: set[str] = set()
    while name not in seen:
        seen.add(name)
        state = flow.states[name]
        for action in state.do:
            if action.opt_out:
                return None
            if action.kind in ("handoff", "hangup"):
                return f"state {name!r} does {action.kind} before opt_out"
        if state.say:
            return f"state {name!r} says {state.say[0]!r} before any opt_out"
        if state.next is None:
            return f"state {name!r} never runs opt_out"
        name = state.next
    return f"state {name!r} loops through `next` without running opt_out"
