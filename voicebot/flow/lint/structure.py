"""Rules about the shape of the state machine: every state reachable, none a dead end, every
listening state bounded in time, every handoff with somewhere to go, every event hearable.
"""

from __future__ import annotations

from collections.abc import Iterator

from voicebot.flow.lint.context import LintContext
from voicebot.flow.lint.finding import Finding, Severity
from voicebot.flow.lint.walk import heard_events, reachable
from voicebot.flow.model import LISTEN_TIMEOUT_MAX, LISTEN_TIMEOUT_MIN
from voicebot.speech.intent import INTENTS


def dead_end(ctx: LintContext) -> Iterator[Finding]:
    """A state the call can get stuck in."""
    flow = ctx.flow
    for name, state in flow.states.items():
        where = ("states", name)
        handoffs = [a.handoff for a in state.do if a.handoff is not None]
        if state.listen is None:
            if state.is_terminal or state.next is not None or handoffs:
                continue  # a handoff without fallback is `handoff-fallback`'s finding
            yield ctx.finding(
                "dead-end",
                Severity.ERROR,
                where,
                f"state {name!r} neither ends, moves on (`next`), listens nor hands off: "
                "the call would hang here",
            )
            continue
        merged = flow.transitions_of(name)
        for event in ("no_input", "no_match"):
            if event not in merged:
                yield ctx.finding(
                    "dead-end",
                    Severity.ERROR,
                    (*where, "listen"),
                    f"state {name!r} listens but handles no `{event}` (in its `on` or the "
                    "global handlers): the call would hang when retries run out",
                )
        if not state.on:
            yield ctx.finding(
                "dead-end",
                Severity.ERROR,
                (*where, "listen"),
                f"state {name!r} listens but its `on` maps no event",
            )


def unreachable(ctx: LintContext) -> Iterator[Finding]:
    """A state no call can ever enter."""
    seen = set(reachable(ctx.flow))
    for name in ctx.flow.states:
        if name not in seen:
            yield ctx.finding(
                "unreachable",
                Severity.ERROR,
                ("states", name),
                f"state {name!r} cannot be reached from start {ctx.flow.start!r}",
            )


def listen_timeout(ctx: LintContext) -> Iterator[Finding]:
    """A listening state says how long silence lasts before `no_input`, within the bounds."""
    for name, state in ctx.flow.states.items():
        if state.listen is None:
            continue
        timeout = state.listen.timeout
        if timeout is None:
            yield ctx.finding(
                "listen-timeout",
                Severity.ERROR,
                ("states", name, "listen"),
                f"state {name!r} listens without a `timeout` (seconds before `no_input`)",
            )
        elif not LISTEN_TIMEOUT_MIN <= timeout <= LISTEN_TIMEOUT_MAX:
            yield ctx.finding(
                "listen-timeout",
                Severity.ERROR,
                ("states", name, "listen", "timeout"),
                f"state {name!r} listens for {timeout:g} s; expected "
                f"{LISTEN_TIMEOUT_MIN:g} to {LISTEN_TIMEOUT_MAX:g} seconds",
            )


def loop(ctx: LintContext) -> Iterator[Finding]:
    """Every path ends: a silent or misunderstood caller leaves every cycle."""
    yield from ctx.violations("loop")


def variable_defined(ctx: LintContext) -> Iterator[Finding]:
    """A prompt's ``{variable}`` that a `set` stores is stored on every path to it."""
    yield from ctx.violations("variable-defined")


def handoff_fallback(ctx: LintContext) -> Iterator[Finding]:
    """Agents are sometimes all busy: a handoff says where the call goes then."""
    for name, state in ctx.flow.states.items():
        for i, action in enumerate(state.do):
            if action.handoff is not None and action.handoff.fallback is None:
                yield ctx.finding(
                    "handoff-fallback",
                    Severity.ERROR,
                    ("states", name, "do", i, "handoff"),
                    f"handoff to queue {action.handoff.queue!r} in state {name!r} has no "
                    "`fallback` state for when no agent accepts",
                )


def unknown_intent(ctx: LintContext) -> Iterator[Finding]:
    """Intent names come from one vocabulary the recognizer knows."""
    known = ", ".join(INTENTS)
    flow = ctx.flow

    def bad(intent: str) -> bool:
        return intent not in INTENTS

    for event in flow.handlers:
        if event.startswith("intent.") and bad(event.removeprefix("intent.")):
            yield ctx.finding(
                "unknown-intent",
                Severity.ERROR,
                ("handlers", event),
                f"unknown intent {event.removeprefix('intent.')!r}; expected one of: {known}",
            )
    for name, state in flow.states.items():
        if state.listen is not None:
            for i, intent in enumerate(state.listen.intents):
                if bad(intent):
                    yield ctx.finding(
                        "unknown-intent",
                        Severity.ERROR,
                        ("states", name, "listen", "intents", i),
                        f"unknown intent {intent!r}; expected one of: {known}",
                    )
        for event in state.on:
            if event.startswith("intent.") and bad(event.removeprefix("intent.")):
                yield ctx.finding(
                    "unknown-intent",
                    Severity.ERROR,
                    ("states", name, "on", event),
                    f"unknown intent {event.removeprefix('intent.')!r}; expected one of: {known}",
                )


def event_not_heard(ctx: LintContext) -> Iterator[Finding]:
    """An `on` entry for an event the state never listens for is dead configuration."""
    flow = ctx.flow
    for name, state in flow.states.items():
        heard = heard_events(flow, state)
        for event in state.on:
            if event in heard:
                continue
            if event.startswith("intent.") and event.removeprefix("intent.") not in INTENTS:
                continue  # unknown-intent reports it
            if state.listen is None:
                why = "the state does not listen"
            elif event.startswith("dtmf."):
                why = f"listen.dtmf is {state.listen.dtmf!r}"
            else:
                why = f"listen.intents is [{', '.join(state.listen.intents)}]"
            yield ctx.finding(
                "event-not-heard",
                Severity.WARNING,
                ("states", name, "on", event),
                f"state {name!r} maps {event} but cannot hear it: {why}",
            )


def input_unmapped(ctx: LintContext) -> Iterator[Finding]:
    """A digit or intent the state accepts but maps nowhere is heard as `no_match`."""
    flow = ctx.flow
    for name, state in flow.states.items():
        if state.listen is None:
            continue
        merged = flow.transitions_of(name)
        for digit in state.listen.dtmf:
            if f"dtmf.{digit}" not in merged:
                yield ctx.finding(
                    "input-unmapped",
                    Severity.WARNING,
                    ("states", name, "listen", "dtmf"),
                    f"state {name!r} accepts digit {digit} but no event maps dtmf.{digit}",
                )
        for i, intent in enumerate(state.listen.intents):
            if f"intent.{intent}" not in merged:
                yield ctx.finding(
                    "input-unmapped",
                    Severity.WARNING,
                    ("states", name, "listen", "intents", i),
                    f"state {name!r} listens for intent {intent!r} but no event maps "
                    f"intent.{intent}",
                )
