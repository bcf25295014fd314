"""Explore every path of a flow as the runtime runs it, and keep the shortest counterexample of
each broken promise.

Why: a rule that pattern-matches the YAML misses what the runtime adds (``9`` and ``hangup``
routes from every state, barge-ins, handoffs nobody accepts, retries that re-prompt) and every
entry but ``start``. So the exploration works on the compiled transition table
(:func:`~voicebot.flow.machine.compile_flow`, the one :class:`~voicebot.flow.runner.FlowRunner`
fires) and replays, per state, what the runner does: actions in order, then prompts (each of
which a caller may interrupt), then ``end``, ``next`` or listening. It starts from every entry
the runtime uses (``start``, and ``voicemail`` after an answering machine's beep) and tries
every caller input a state can get: each routed digit and intent, silence, words it does not
map, a hangup, a barge-in, an agent who accepts or nobody.

A node of the search is the state plus what the properties depend on (disclosure said, opted
out, an opt-out asked for but not yet run, variables ``set`` so far, caller gone), so the
search is finite and breadth-first: the first path that reaches a violation is a shortest one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import replace

from voicebot.flow.lint.finding import TraceStep
from voicebot.flow.lint.paths import (
    CallBack,
    End,
    Exit,
    Exploration,
    Listen,
    Move,
    Node,
    Observation,
    OptOut,
    Say,
    SetVars,
    Transfer,
    Violation,
)
from voicebot.flow.loader import LoadedFlow
from voicebot.flow.machine import FlowSpec, compile_flow, dtmf_trigger, trigger_of
from voicebot.flow.model import OPT_OUT_DIGIT, VARIABLE_RE
from voicebot.flow.runner import DEFAULT_MAX_TRANSITIONS
from voicebot.yamlsource import Path_

OPT_OUT_INTENT = "opt_out"
_NOT_INPUT = frozenset({"next", "fallback", "no_input", "no_match"})


class Explorer:
    """The search over one loaded flow; :meth:`run` returns the :class:`Exploration`."""

    def __init__(self, loaded: LoadedFlow, spec: FlowSpec | None = None) -> None:
        self.loaded = loaded
        self.flow = loaded.flow
        self.spec = spec if spec is not None else compile_flow(loaded.flow)
        catalog = loaded.prompts
        self.texts = dict(catalog.texts) if catalog is not None else {}
        self.always = {"company", *self.flow.variables}
        self.settable = {k for s in self.flow.states.values() for a in s.do if a.set for k in a.set}
        self.questions = {
            p for s in self.flow.states.values() if s.listen is not None for p in s.say
        }
        self.result = Exploration()

    # ---- the search ------------------------------------------------------------------------

    def entries(self) -> list[tuple[str, str]]:
        """(entry name, state) of every way the runtime enters the flow."""
        out = [("start", self.flow.start)]
        if self.flow.voicemail is not None:
            out.append(("voicemail", self.flow.voicemail))
        return out

    def run(self) -> Exploration:
        """Breadth-first over every node reachable from every entry."""
        queue: deque[Node] = deque()
        for entry, state in self.entries():
            node = Node(state)
            if node not in self.result.reached:
                self.result.reached[node] = (TraceStep(entry, state),)
                queue.append(node)
        while queue:
            node = queue.popleft()
            trace = self.result.reached[node]
            for observations, exit_ in self.branches(node):
                after = self.observe(node, observations, trace)
                if after is None:
                    continue
                if isinstance(exit_, End):
                    self.check_end(after, exit_, trace)
                    continue
                nxt = self.move(after, exit_)
                if nxt not in self.result.reached:
                    self.result.reached[nxt] = (*trace, self.step(exit_))
                    queue.append(nxt)
        self.check_loops()
        return self.result

    @staticmethod
    def step(move: Move) -> TraceStep:
        """A move as a step of a counterexample."""
        return TraceStep(move.event, move.target, move.during, move.repeat)

    def move(self, node: Node, move: Move) -> Node:
        """The node after ``move``: an opt-out asked for, the caller gone."""
        asks = move.trigger == dtmf_trigger(OPT_OUT_DIGIT) or move.event == "intent.opt_out"
        return replace(
            node,
            state=move.target,
            pending=node.pending or (asks and not node.opted_out),
            gone=node.gone or move.hangup,
        )

    # ---- what one state does ---------------------------------------------------------------

    def aside(self, name: str, prompt: str, during_disclosure: bool) -> Iterator[Exit]:
        """Barge-ins while a non-listening state speaks: only routed events count."""
        routes = self.spec.routes[name]
        for trigger, target in routes.items():
            if trigger in _NOT_INPUT or target is None:
                continue
            if during_disclosure and trigger not in (dtmf_trigger(OPT_OUT_DIGIT), "hangup"):
                continue
            event, path = self.event_of(name, trigger)
            yield Move(trigger, event, target, path, during=prompt, hangup=trigger == "hangup")
        if "hangup" not in routes:
            yield End("the caller hung up", "hangup")
        if dtmf_trigger(OPT_OUT_DIGIT) not in routes:
            yield End("9 in a flow without an opt-out state", "dtmf.9", opts_out=True)

    def event_of(self, name: str, trigger: str) -> tuple[str, Path_]:
        """The flow-language event of a trigger, and where its route is written."""
        for key in self.flow.transitions_of(name):
            if trigger_of(key) == trigger:
                where: Path_ = (
                    ("states", name, "on", key)
                    if key in self.flow.states[name].on
                    else ("handlers", key)
                )
                return key, where
        if trigger == "hangup":
            return "hangup", ("handlers", "hangup")
        if trigger.startswith("dtmf_"):
            return f"dtmf.{OPT_OUT_DIGIT}", ("handlers", f"dtmf.{OPT_OUT_DIGIT}")
        intent = trigger.removeprefix("intent_")
        return f"intent.{intent}", ("handlers", f"intent.{intent}")

    def branches(self, node: Node) -> Iterator[tuple[list[Observation], Exit]]:
        """Every (what the callee hears and the call does, how the state is left)."""
        name = node.state
        state = self.flow.states[name]
        obs: list[Observation] = []
        for i, action in enumerate(state.do):
            where: Path_ = ("states", name, "do", i)
            if action.opt_out:
                obs.append(OptOut())
            elif action.hangup:
                yield obs, End("the bot hangs up")
                return
            elif action.callback is not None:
                obs.append(CallBack(where))
            elif action.set is not None:
                obs.append(SetVars(frozenset(action.set)))
            elif action.handoff is not None:
                handoff = action.handoff
                if node.gone:
                    yield obs, End("the caller hung up before the handoff")
                    return
                if handoff.hold is not None:
                    obs.append(Say(handoff.hold, (*where, "handoff", "hold")))
                    for exit_ in self.aside(name, handoff.hold, False):
                        yield list(obs), exit_
                obs.append(Transfer((*where, "handoff"), handoff.queue))
                yield list(obs), End("an agent accepted", "agent")
                if self.spec.can(name, "fallback"):
                    yield (
                        obs,
                        Move(
                            "fallback",
                            "no_agent",
                            handoff.fallback or "",
                            (*where, "handoff", "fallback"),
                        ),
                    )
                    return
        if node.gone:
            if state.end is not None:
                yield obs, End(f"end: {state.end.value}")
            elif state.next is not None:
                yield obs, Move("next", "next", state.next, ("states", name, "next"))
            else:
                yield obs, End("the caller hung up")
            return
        listening = state.listen is not None
        early: list[tuple[list[Observation], Exit]] = []
        for i, prompt in enumerate(state.say):
            obs.append(Say(prompt, ("states", name, "say", i)))
            if not listening:
                for exit_ in self.aside(name, prompt, prompt == self.flow.disclosure):
                    yield list(obs), exit_
            elif self.fails_later(node, obs, state.say[i + 1 :]):
                early.extend(self.answered_early(name, list(obs), prompt))
        if state.end is not None:
            yield obs, End(f"end: {state.end.value}")
        elif state.next is not None:
            yield obs, Move("next", "next", state.next, ("states", name, "next"))
        elif listening:
            yield from self.listen(name, obs)
        else:
            yield obs, End("dead end")
        yield from early

    def fails_later(self, node: Node, obs: list[Observation], later: Sequence[str]) -> bool:
        """Whether a prompt still to come in this state lacks a variable (the call fails on
        it), given what the state's own actions stored first."""
        stored = {n for ob in obs if isinstance(ob, SetVars) for n in ob.names}
        after = replace(node, defined=node.defined | stored)
        return any(self.missing(after, prompt) for prompt in later)

    def answered_early(
        self, name: str, obs: list[Observation], prompt: str
    ) -> Iterator[tuple[list[Observation], Exit]]:
        """The caller answers a listening state over ``prompt``, before a later prompt the
        call would fail on: the runner takes the answer there and never says the rest.

        Elsewhere an early answer leads where the same answer after the prompts does, so
        only this case is a path of its own. Over the disclosure only 9 and a hangup cut in.
        """
        if prompt == self.flow.disclosure:
            for exit_ in self.aside(name, prompt, True):
                yield obs, exit_
            return
        for seen, exit_ in self.listen(name, obs):
            if isinstance(exit_, End):
                yield seen, exit_
            elif exit_.event != "no_input":  # silence is not an answer over a prompt
                yield seen, replace(exit_, during=prompt)

    def listen(self, name: str, obs: list[Observation]) -> Iterator[tuple[list[Observation], Exit]]:
        """What a listening state can hear, and where each leads (as ``FlowRunner._listen``)."""
        state = self.flow.states[name]
        listen = state.listen
        assert listen is not None
        obs = [*obs, Listen(("states", name, "listen"))]
        routes = self.spec.routes[name]
        for trigger, target in routes.items():
            if trigger in _NOT_INPUT or target is None:
                continue
            event, path = self.event_of(name, trigger)
            yield obs, Move(trigger, event, target, path, hangup=trigger == "hangup")
        if "hangup" not in routes:
            yield obs, End("the caller hung up", "hangup")
        if dtmf_trigger(OPT_OUT_DIGIT) not in routes:
            yield obs, End("9 in a flow without an opt-out state", "dtmf.9", opts_out=True)
        retried = list(obs)
        if listen.retries:
            again = listen.reprompt or state.say
            key = "reprompt" if listen.reprompt else "say"
            base: Path_ = ("states", name, "listen", "reprompt") if listen.reprompt else ()
            for i, prompt in enumerate(again):
                where = (*base, i) if base else ("states", name, key, i)
                retried.append(Say(prompt, where))
        for failed in ("no_input", "no_match"):
            if failed in routes:
                target = routes[failed]
                _, path = self.event_of(name, failed)
                assert target is not None
                move = Move(failed, failed, target, path, repeat=listen.retries + 1)
                yield retried, move
            else:
                yield retried, End(f"no route for {failed}", failed)

    # ---- the properties --------------------------------------------------------------------

    def observe(
        self, node: Node, observations: list[Observation], trace: tuple[TraceStep, ...]
    ) -> Node | None:
        """Check what happens in a state against the properties; return the node after it."""
        name = node.state
        state = self.flow.states[name]
        listening = state.listen is not None
        for ob in observations:
            if isinstance(ob, OptOut):
                node = replace(node, opted_out=True, pending=False)
            elif isinstance(ob, SetVars):
                node = replace(node, defined=node.defined | ob.names)
            elif isinstance(ob, Say):
                if self.missing(node, ob.prompt):
                    self.check_variables(node, ob, trace)
                    return None  # the runner fails the call here (KeyError): nothing follows
                if node.pending:
                    self.not_honoured(node, ob.path, f"prompt {ob.prompt!r} said", trace, ob)
                    node = replace(node, pending=False)
                early = self.check_say(node, ob, trace, state.sensitive, listening)
                if early or ob.prompt == self.flow.disclosure:
                    # After the first thing heard too early, the rest of the path is its
                    # consequence: one finding per path, at its first audible thing.
                    node = replace(node, disclosed=True)
            elif isinstance(ob, Listen):
                node = self.check_act(node, ob.path, "listening for an answer", trace, "asks")
                self.check_spoken(node, ob, trace)
            elif isinstance(ob, Transfer):
                what = f"a handoff to queue {ob.queue!r}"
                node = self.check_act(node, ob.path, what, trace, "hands off")
            else:
                node = self.check_act(node, ob.path, "a callback", trace, "schedules a callback")
        return node

    def violation(
        self,
        rule: str,
        path: Path_,
        message: str,
        trace: tuple[TraceStep, ...],
        key: str,
        *,
        prompt: str | None = None,
        state: str | None = None,
    ) -> None:
        """Record one violation (the first, shortest, of its kind and place)."""
        self.result.add(Violation(rule, path, message, trace, prompt, state), key)

    def check_say(
        self, node: Node, ob: Say, trace: tuple[TraceStep, ...], sensitive: bool, listening: bool
    ) -> bool:
        """A prompt is heard: after the disclosure, recorded, not after an opt-out, variables
        defined. Returns whether it was heard before the disclosure."""
        name = node.state
        disclosure = self.flow.disclosure
        early = False
        if ob.prompt == disclosure:
            if sensitive:
                self.violation(
                    "disclosure-recorded",
                    ("states", name, "sensitive"),
                    f"the disclosure {disclosure!r} is said in state {name!r}, where recording "
                    "is paused (`sensitive: true`): the callee is told the call is recorded "
                    "while it is not",
                    trace,
                    "sensitive",
                    prompt=ob.prompt,
                    state=name,
                )
        elif not node.disclosed:
            early = True
            self.violation(
                "disclosure-first",
                ob.path,
                f"prompt {ob.prompt!r} can be heard before the disclosure {disclosure!r}",
                trace,
                "before",
                prompt=ob.prompt,
                state=name,
            )
        if (
            node.opted_out
            and not listening  # a listening state after an opt-out is reported as a question
            and ob.prompt in self.questions
            and ob.prompt != disclosure
        ):
            self.violation(
                "opt-out-final",
                ob.path,
                f"prompt {ob.prompt!r} (said where the flow asks a question) follows an "
                "opt-out: after an opt-out only a confirmation and goodbye",
                trace,
                "pitch",
                prompt=ob.prompt,
                state=name,
            )
        return early

    def check_variables(self, node: Node, ob: Say, trace: tuple[TraceStep, ...]) -> None:
        """A prompt needs a variable no ``set`` stored on this path: the call fails there."""
        name = node.state
        for variable in sorted(self.missing(node, ob.prompt)):
            self.violation(
                "variable-defined",
                ob.path,
                f"prompt {ob.prompt!r} uses {{{variable}}}, which no `set` has stored on this "
                "path (the call would fail here)",
                trace,
                f"var:{variable}",
                prompt=ob.prompt,
                state=name,
            )

    def missing(self, node: Node, prompt: str) -> set[str]:
        """Variables of ``prompt`` that a ``set`` stores elsewhere but not on this path (those
        no ``set`` stores at all are prompt-missing's: the runner refuses the flow)."""
        text = self.texts.get(prompt)
        if text is None:
            return set()
        needed = set(VARIABLE_RE.findall(text)) - self.always - node.defined
        return needed & self.settable

    def not_honoured(
        self,
        node: Node,
        path: Path_,
        what: str,
        trace: tuple[TraceStep, ...],
        said: Say | None = None,
    ) -> None:
        """The callee asked to opt out and the flow does something else first."""
        self.violation(
            "opt-out-reachable",
            path,
            f"{what} in state {node.state!r} after the callee asked to opt out, before "
            "`opt_out` ran: the opt-out is not honoured first",
            trace,
            f"pending:{what}",
            prompt=said.prompt if said is not None else None,
            state=node.state,
        )

    def check_spoken(self, node: Node, ob: Listen, trace: tuple[TraceStep, ...]) -> None:
        """A listening state hears "don't call me again" (before the disclosure too: a
        silent menu must not take it for an answer)."""
        if node.opted_out or node.pending:
            return
        if f"intent_{OPT_OUT_INTENT}" not in self.spec.routes[node.state]:
            self.violation(
                "opt-out-reachable",
                ob.path,
                f"state {node.state!r} listens but does not hear the spoken opt-out "
                f"(intent.{OPT_OUT_INTENT}): it would go on as if nothing was said",
                trace,
                "spoken",
                state=node.state,
            )

    def check_act(
        self, node: Node, path: Path_, what: str, trace: tuple[TraceStep, ...], verb: str
    ) -> Node:
        """A question, handoff or callback: never after an opt-out was asked for or done, and a
        handoff (audible) only after the disclosure. Returns the node after it (a path's
        first violation of a kind stands for the rest of that path)."""
        name = node.state
        if node.pending:
            self.not_honoured(node, path, what, trace)
            return replace(node, pending=False)
        if node.opted_out:
            self.violation(
                "opt-out-final",
                path,
                f"state {name!r} {verb} after the opt-out ({what}): after an opt-out only a "
                "confirmation and goodbye, then the end",
                trace,
                verb,
                state=name,
            )
            return node
        if verb == "hands off" and not node.disclosed:
            self.violation(
                "disclosure-first",
                path,
                f"{what} can be heard before the disclosure {self.flow.disclosure!r}",
                trace,
                "before",
                state=name,
            )
            return replace(node, disclosed=True)
        return node

    def check_end(self, node: Node, end: End, trace: tuple[TraceStep, ...]) -> None:
        """An opt-out asked for must have run before the call ends."""
        if node.pending and not end.opts_out and end.event != "hangup":
            self.not_honoured(node, ("states", node.state), f"the call ends ({end.why})", trace)

    # ---- every path ends -------------------------------------------------------------------

    def check_loops(self) -> None:
        """From every node reached, a silent and an uncooperative caller reach the end.

        Both callers are deterministic (silence, or words the state does not map; nobody
        accepts a handoff; no barge-in), so a node seen twice on their path is a cycle they
        never leave: only the runtime's transition cap would end the call.
        """
        for node, trace in list(self.result.reached.items()):
            for caller in ("no_input", "no_match"):
                self.follow(node, trace, caller)

    def passive_exit(self, node: Node, caller: str) -> tuple[Node, Move] | None:
        """The node after the state and the move a passive caller causes (None: it ends)."""
        for observations, exit_ in self.branches(node):
            if isinstance(exit_, End):
                if exit_.event in (None, caller) and exit_.why != "an agent accepted":
                    return None
                continue
            if exit_.during is not None or exit_.event not in ("next", "no_agent", caller):
                continue
            after = self.apply(node, observations)
            return (after, exit_) if after is not None else None
        return None

    def follow(self, start: Node, trace: tuple[TraceStep, ...], caller: str) -> None:
        """Walk the passive caller's path from ``start``; report the cycle it cannot leave."""
        seen: dict[Node, int] = {start: 0}
        path: list[tuple[Node, Move]] = []
        node = start
        while len(path) <= DEFAULT_MAX_TRANSITIONS:
            found = self.passive_exit(node, caller)
            if found is None:
                return
            after, move = found
            path.append((node, move))
            node = self.move(after, move)
            if node in seen:
                cycle = path[seen[node] :]
                states = " -> ".join([n.state for n, _ in cycle] + [node.state])
                who = "a silent caller" if caller == "no_input" else "a caller never understood"
                closing = cycle[-1][1]
                steps = tuple(self.step(m) for _, m in path)
                self.violation(
                    "loop",
                    closing.path,
                    f"{who} goes round {states} for ever (only the runtime's cap of "
                    f"{DEFAULT_MAX_TRANSITIONS} transitions would end the call): give the "
                    "cycle an exit",
                    (*trace, *steps),
                    "cycle:" + ",".join(sorted({n.state for n, _ in cycle})),
                    state=closing.target,
                )
                return
            seen[node] = len(path)
        self.violation(
            "loop",
            ("states", start.state),
            f"a passive caller needs more than {DEFAULT_MAX_TRANSITIONS} transitions from "
            f"state {start.state!r} to reach the end",
            trace,
            "long",
            state=start.state,
        )

    def apply(self, node: Node, observations: list[Observation]) -> Node | None:
        """The node after ``observations``, without checking anything (for loop walks); None
        when the call fails on the way (a prompt variable not set)."""
        for ob in observations:
            if isinstance(ob, Say) and self.missing(node, ob.prompt):
                return None
            if isinstance(ob, OptOut):
                node = replace(node, opted_out=True, pending=False)
            elif isinstance(ob, SetVars):
                node = replace(node, defined=node.defined | ob.names)
            elif isinstance(ob, Say) and ob.prompt == self.flow.disclosure:
                node = replace(node, disclosed=True)
        return node


def explore(loaded: LoadedFlow) -> Exploration:
    """Search every path of ``loaded`` from every entry; see the module docstring."""
    return Explorer(loaded).run()
