"""A flow compiled once into a transition table and one ``transitions`` machine; a model per call.

A campaign places thousands of calls through the same flow, so everything that depends only on
the flow (trigger names, the merged ``on`` + global ``handlers`` table, the opt-out routes that
every state must have, the ``AsyncMachine`` built from them) is worked out once by
:func:`compile_flow`. Each call then gets its own :class:`FlowMachine`: a tiny
:class:`CallModel` on that machine, which keeps its state on the model and nothing per call in
itself (``voicebot bench flow`` prints what that costs).

Triggers: ``dtmf_<d>`` (``dtmf_star``, ``dtmf_hash``), ``intent_<name>``, ``no_input``,
``no_match``, ``hangup``, ``next`` and ``fallback`` (handoff not accepted). Two routes are
added to what the designer wrote, because compliance needs them everywhere, not only while a
state listens:

* ``dtmf_9`` leads from *every* state to the opt-out target (the ``dtmf.9`` handler), and so do
  the global intents that lead there (``intent.opt_out``); in the target itself they are
  internal transitions (valid, nothing re-runs).
* ``hangup`` leads from every state that does not end the call to the state's own ``hangup``
  route or the global ``hangup`` handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from transitions.core import State
from transitions.extensions.asyncio import AsyncMachine

from voicebot.flow.model import OPT_OUT_DIGIT, Flow

OPT_OUT_KEY = f"dtmf.{OPT_OUT_DIGIT}"
"""The event key of the opt-out digit; its handler names the flow's opt-out state."""

_DIGIT_NAMES = {"*": "star", "#": "hash"}


def dtmf_trigger(digit: str) -> str:
    """The trigger of a keypad digit: ``dtmf_5``, ``dtmf_star``, ``dtmf_hash``."""
    return f"dtmf_{_DIGIT_NAMES.get(digit, digit)}"


def intent_trigger(intent: str) -> str:
    """The trigger of a recognized intent: ``intent_refuse``."""
    return f"intent_{intent}"


def trigger_of(event_key: str) -> str:
    """The machine trigger of a flow event key (``dtmf.#`` -> ``dtmf_hash``, ``intent.x`` ->
    ``intent_x``; ``no_input``, ``no_match`` and ``hangup`` keep their names)."""
    kind, _, value = event_key.partition(".")
    if kind == "dtmf":
        return dtmf_trigger(value)
    if kind == "intent":
        return intent_trigger(value)
    return event_key


@dataclass(frozen=True)
class CompiledTransition:
    """One row of the table: ``trigger`` fired in ``source`` leads to ``dest``.

    ``dest`` None is an internal transition: the trigger is valid but the state stays and its
    actions do not run again (``dtmf_9`` inside the opt-out state).
    """

    trigger: str
    source: str
    dest: str | None


class CallModel:
    """The per-call object the machine drives; ``state`` is the current state's name.

    It gets no per-trigger methods (see :class:`_LeanMachine`): :meth:`FlowMachine.fire` is
    the one, typed, way to move it.
    """

    state: str


class _LeanMachine(AsyncMachine):
    """An ``AsyncMachine`` that binds no convenience methods (``model.next()``, ``may_next``,
    ``is_<state>``) onto its models: they would make a call's machine several times dearer,
    and the runner fires events through :meth:`FlowMachine.fire`. The two hooks are where the
    library's own machines (nesting, locking) change what a model gets, too."""

    def _add_trigger_to_model(self, trigger: str, model: object) -> None:
        pass

    def _add_model_to_state(self, state: State, model: object) -> None:
        pass

    @staticmethod
    async def await_all(
        callables: list[Callable[..., Coroutine[Any, Any, bool | None]]],
    ) -> list[bool | None]:
        """As the library's, without a gather when there is nothing to wait for: a
        transition consults about ten callback lists (prepare, before, after, exit, enter,
        ...), nearly all empty for a flow, and gathering each was most of its cost."""
        if not callables:
            return []
        return list(await asyncio.gather(*[func() for func in callables]))


class UnknownTrigger(ValueError):
    """A trigger was fired in a state that has no route for it."""


@dataclass(frozen=True)
class FlowSpec:
    """A flow compiled for running: the states and every transition, shared by all calls."""

    flow: Flow
    states: tuple[str, ...]
    transitions: tuple[CompiledTransition, ...]
    opt_out_target: str | None
    """The state ``dtmf.9`` leads to; None only in a flow the lint refuses."""
    routes: Mapping[str, Mapping[str, str | None]]
    """state -> trigger -> destination (None: internal)."""
    heard: Mapping[str, tuple[frozenset[str], str]]
    """state -> (intents the recognizer may return there, digits with a route there)."""
    _machine: _LeanMachine = field(repr=False, compare=False)
    """The flow's machine; it holds no call's state (that is on each call's model)."""

    def can(self, state: str, trigger: str) -> bool:
        """Whether ``trigger`` has a route from ``state``."""
        return trigger in self.routes[state]

    def target(self, state: str, trigger: str) -> str | None:
        """Where ``trigger`` leads from ``state`` (None: stays, internal).

        Raises:
            UnknownTrigger: no route.
        """
        try:
            return self.routes[state][trigger]
        except KeyError:
            raise UnknownTrigger(f"state {state!r} has no route for {trigger!r}") from None

    def intents_heard(self, state: str) -> frozenset[str]:
        """Intents the recognizer may return in ``state``: those with a route from it (its own
        ``on``, the global handlers, the opt-out intents) plus its ``listen.intents``."""
        return self.heard[state][0]

    def digits_heard(self, state: str) -> str:
        """The keypad digits with a route from ``state``, in keypad order."""
        return self.heard[state][1]

    def new_machine(self) -> FlowMachine:
        """A fresh machine for one call, in the start state."""
        return FlowMachine(self)


def _opt_out_target(flow: Flow) -> str | None:
    target = flow.handlers.get(OPT_OUT_KEY)
    if target is not None:
        return target
    return next(
        (name for name, state in flow.states.items() if any(a.opt_out for a in state.do)), None
    )


def compile_flow(flow: Flow) -> FlowSpec:
    """Work out the transition table of ``flow`` once; see the module docstring for the rules.

    The flow must have passed :func:`voicebot.flow.loader.load_flow` (names resolve).
    """
    opt_out = _opt_out_target(flow)
    opt_out_keys = [OPT_OUT_KEY] if opt_out is not None else []
    opt_out_keys += [
        key
        for key, dest in flow.handlers.items()
        if key.startswith("intent.") and dest == opt_out and opt_out is not None
    ]
    rows: list[CompiledTransition] = []
    for name, state in flow.states.items():
        routes: dict[str, str | None] = {
            trigger_of(key): dest for key, dest in flow.transitions_of(name).items()
        }
        if not state.is_terminal and "hangup" not in routes:
            hangup = state.on.get("hangup", flow.handlers.get("hangup"))
            if hangup is not None:
                routes["hangup"] = hangup
        if state.next is not None:
            routes["next"] = state.next
        for action in state.do:
            if action.handoff is not None and action.handoff.fallback is not None:
                routes["fallback"] = action.handoff.fallback
        for key in opt_out_keys:
            trigger = trigger_of(key)
            if key == OPT_OUT_KEY or trigger not in routes:
                # "9" is the opt-out everywhere, even over a state's own `on: dtmf.9`.
                routes[trigger] = None if name == opt_out else opt_out
        rows.extend(CompiledTransition(t, name, dest) for t, dest in routes.items())

    table: dict[str, dict[str, str | None]] = {name: {} for name in flow.states}
    machine = _LeanMachine(
        model=None, states=list(flow.states), initial=flow.start, auto_transitions=False
    )
    for row in rows:
        table[row.source][row.trigger] = row.dest
        machine.add_transition(row.trigger, row.source, row.dest)  # dest None: internal
    return FlowSpec(
        flow=flow,
        heard=MappingProxyType({name: _heard(flow, name, table[name]) for name in flow.states}),
        states=tuple(flow.states),
        transitions=tuple(rows),
        opt_out_target=opt_out,
        routes=MappingProxyType({k: MappingProxyType(v) for k, v in table.items()}),
        _machine=machine,
    )


def _heard(flow: Flow, state: str, routes: Mapping[str, str | None]) -> tuple[frozenset[str], str]:
    routed = {t.removeprefix("intent_") for t in routes if t.startswith("intent_")}
    listen = flow.states[state].listen
    intents = frozenset(routed | set(listen.intents if listen is not None else ()))
    return intents, "".join(d for d in "0123456789*#" if dtmf_trigger(d) in routes)


class FlowMachine:
    """One call's position in the flow: a :class:`CallModel` on the flow's ``AsyncMachine``.

    The machine is the spec's, shared by all calls: it reads and writes the state of the model
    it is given, and keeps no model registered (a campaign's calls would pile up in it).
    """

    def __init__(self, spec: FlowSpec) -> None:
        self.spec = spec
        self.model = CallModel()
        machine = spec._machine
        # Registering binds the model's entry points and sets its initial state; unregistered,
        # the model keeps both (the library's documented remove_model semantics).
        machine.add_model(self.model)
        machine.remove_model(self.model)
        self._machine = machine

    @property
    def state(self) -> str:
        """The current state's name."""
        return self.model.state

    def can(self, trigger: str) -> bool:
        """Whether ``trigger`` has a route from the current state."""
        return self.spec.can(self.model.state, trigger)

    async def fire(self, trigger: str) -> str:
        """Take the route of ``trigger`` from the current state; return the state now current.

        Raises:
            UnknownTrigger: the current state has no route for ``trigger``.
        """
        if not self.can(trigger):
            raise UnknownTrigger(f"state {self.model.state!r} has no route for {trigger!r}")
        await self._machine.events[trigger].trigger(self.model)
        return self.model.state
