"""The lint against the runtime: hypothesis writes flows (valid and broken), the lint judges
them, and the real FlowRunner, driven through the simulator, runs every caller input sequence
up to a depth from every entry.

* Sound: whatever a run does wrong (something heard before the disclosure, the disclosure said
  while recording is paused, an opt-out not honoured first, anything but a goodbye after it, a
  loop only the transition cap ends, a prompt variable missing), the lint reported under the
  rule for it.
* Honest: every counterexample path the lint prints replays in the simulator to the violation
  it names.

The monitor below is written from the properties as docs/flows.md states them, not from the
lint's code, so the two can disagree.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from voicebot.flow.events import (
    CallerEvent,
    CallerEventHeard,
    Dtmf,
    Hangup,
    NoInput,
    OutcomeReached,
    PromptStarted,
    RunEvent,
    StateEntered,
    Utterance,
)
from voicebot.flow.host import IntentResult
from voicebot.flow.lint import Finding, Severity, TraceStep, lint
from voicebot.flow.loader import LoadedFlow, load_flow
from voicebot.flow.machine import FlowSpec, compile_flow
from voicebot.flow.model import Handoff
from voicebot.flow.runner import BargeIn, HandoffContext, ListenSpec
from voicebot.flow.simulate import ScriptedCaller, TextHost, simulate
from voicebot.outcomes import Outcome
from voicebot.speech.intent import recognize

PROMPTS = {
    "disclosure": "Hello, this is {company}. This call is recorded. Press 9 to stop our calls.",
    "ask": "Press 1 or 2, or tell us what you think.",
    "info": "Here is our offer.",
    "tiered": "About your {tier} plan.",
    "confirm": "You will not be called again.",
    "bye": "Goodbye.",
}
PHRASES = {
    "opt_out": "please don't call me again",
    "refuse": "not interested",
    "affirm": "yes",
    "deny": "no",
    "interested": "tell me more",
    "callback_later": "call me later",
    "ask_human": "I want to talk to a person",
}
GIBBERISH = "purple elephant banana"
LISTEN_CHOICES: tuple[CallerEvent | None, ...] = (
    None,  # the passive caller's answer (silence, or words never understood)
    NoInput(),
    Dtmf("1"),
    Dtmf("2"),
    Dtmf("9"),
    Utterance(PHRASES["opt_out"]),
    Utterance(PHRASES["refuse"]),
    Utterance(GIBBERISH),
    Hangup(),
)
DEPTH = 3
"""Caller choices (answers, barge-ins, agents) explored per run; later ones are passive."""

PROPERTY_RULES = {
    "disclosure-first": {"disclosure-first"},
    "disclosure-recorded": {"disclosure-recorded"},
    "opt-out-honoured": {"opt-out-reachable"},
    "opt-out-final": {"opt-out-final"},
    "loop": {"loop"},
    "variable": {"variable-defined", "prompt-missing"},
}
RULE_PROPERTY = {
    "disclosure-first": "disclosure-first",
    "disclosure-recorded": "disclosure-recorded",
    "opt-out-reachable": "opt-out-honoured",
    "opt-out-final": "opt-out-final",
    "loop": "loop",
    "variable-defined": "variable",
}


# ---- flows ------------------------------------------------------------------------------------

MAIN = ("s0", "s1", "s2", "s3")
SAYS: tuple[list[str], ...] = (
    [],
    ["disclosure"],
    ["disclosure", "ask"],
    ["disclosure", "info"],
    ["ask"],
    ["info"],
    ["tiered"],
    ["ask", "disclosure"],
    ["disclosure", "tiered"],
)


@st.composite
def flows(draw: st.DrawFn) -> dict[str, Any]:
    """A flow of 2-4 main states, an opt-out state, a goodbye and a hangup state."""
    count = draw(st.integers(2, 4))
    main = list(MAIN[:count])
    targets = [*main, "bye"]
    anywhere = [*targets, "opt_out"]
    states: dict[str, Any] = {}
    for name in main:
        state: dict[str, Any] = {}
        action = draw(
            st.sampled_from(["", "", "", "set", "set", "callback", "handoff", "handoff_self"])
        )
        if action == "set":
            state["do"] = [{"set": {"tier": "gold"}}]
        elif action == "callback":
            state["do"] = ["callback"]
        elif action.startswith("handoff"):
            fallback = name if action == "handoff_self" else draw(st.sampled_from(targets))
            state["do"] = [{"handoff": {"queue": "sales", "hold": "info", "fallback": fallback}}]
        says = draw(st.sampled_from(SAYS))
        if says:
            state["say"] = list(says)
        if draw(st.integers(0, 9)) == 0:
            state["sensitive"] = True
        if action.startswith("handoff"):
            pass  # the handoff (or its fallback) moves on
        elif draw(st.booleans()):
            state["listen"] = {
                "dtmf": "12",
                "intents": ["refuse"],
                "timeout": 5,
                "retries": draw(st.integers(0, 1)),
            }
            state["on"] = {
                "dtmf.1": draw(st.sampled_from(targets)),
                "dtmf.2": draw(st.sampled_from(targets)),
                "intent.refuse": draw(st.sampled_from(anywhere)),
                "no_input": draw(st.sampled_from(targets)),
                "no_match": draw(st.sampled_from(targets)),
            }
        elif draw(st.booleans()):
            state["next"] = draw(st.sampled_from(targets))
        else:
            state["end"] = "completed"
        states[name] = state
    if draw(st.integers(0, 5)) == 0:
        # A variable set on one branch only: the last main state sets it, the start says it.
        states[main[-1]]["do"] = [{"set": {"tier": "gold"}}]
        states["s0"].pop("do", None)
        states["s0"]["say"] = ["disclosure", "tiered"]
    opt_out: dict[str, Any] = {}
    shape = draw(
        st.sampled_from(
            ["good", "good", "good", "late", "asks", "goes_on", "callback"] + ["callback_first"] * 2
        )
    )
    if shape == "good":
        opt_out = {"do": ["opt_out"], "say": ["confirm"], "end": "opted_out"}
    elif shape == "late":
        opt_out = {"say": ["confirm"], "do": [], "next": "bye"}
    elif shape == "asks":
        opt_out = {
            "do": ["opt_out"],
            "say": ["ask"],
            "listen": {"dtmf": "12", "timeout": 5},
            "on": {"dtmf.1": "bye", "dtmf.2": "bye", "no_input": "bye", "no_match": "bye"},
        }
    elif shape == "goes_on":
        opt_out = {"do": ["opt_out"], "say": ["confirm"], "next": draw(st.sampled_from(main))}
    elif shape == "callback":
        opt_out = {"do": ["opt_out", "callback"], "say": ["confirm"], "end": "opted_out"}
    else:
        opt_out = {"do": ["callback", "opt_out"], "say": ["confirm"], "end": "opted_out"}
    if not opt_out.get("do"):
        opt_out.pop("do", None)
    states["opt_out"] = opt_out
    states["bye"] = {"say": ["bye"], "end": "completed"}
    states["gone"] = {"end": "hung_up"}
    handlers: dict[str, str] = {"dtmf.9": "opt_out", "hangup": "gone"}
    spoken = draw(st.sampled_from(["opt_out"] * 4 + ["none", "elsewhere"]))
    if spoken == "opt_out":
        handlers["intent.opt_out"] = "opt_out"
    elif spoken == "elsewhere":
        handlers["intent.opt_out"] = draw(st.sampled_from(targets))
    flow: dict[str, Any] = {
        "purpose": "survey",
        "locale": "en-US",
        "company": "Example Co",
        "start": "s0",
        "handlers": handlers,
        "states": states,
    }
    if draw(st.booleans()):
        flow["voicemail"] = draw(st.sampled_from(main))
    return flow


def _write(folder: Path, flow: dict[str, Any]) -> LoadedFlow:
    (folder / "prompts").mkdir(exist_ok=True)
    (folder / "prompts" / "en-US.yaml").write_text(
        yaml.safe_dump(PROMPTS, allow_unicode=True), encoding="utf-8"
    )
    path = folder / "flow.yaml"
    path.write_text(yaml.safe_dump(flow, sort_keys=False), encoding="utf-8")
    return load_flow(path)


# ---- the runtime, driven and watched -----------------------------------------------------------


@dataclass
class Script:
    """Where a run's caller choices come from: replayed ones, then enumerated, then passive."""

    forced: list[int] = field(default_factory=list)
    """Choice indices to take, in order (the enumeration's prefix)."""
    seen: list[int] = field(default_factory=list)
    """How many options each choice point had, in order (for the enumeration)."""
    depth: int = DEPTH
    passive: CallerEvent = field(default_factory=NoInput)

    def pick(self, options: int) -> int:
        index = len(self.seen)
        if index >= self.depth:
            return 0
        self.seen.append(options)
        return self.forced[index] if index < len(self.forced) else 0


@dataclass
class Replay:
    """A counterexample as host inputs: listen answers and barge-ins, in order."""

    items: list[tuple[str, str | None, str | None, CallerEvent]]
    """(kind 'listen'|'barge', state the caller is in, prompt cut, event)."""
    passive: CallerEvent


class WatchedHost(TextHost):
    """A simulator host whose caller follows a :class:`Script` or a :class:`Replay`, and which
    notes everything the callee hears and the call does, in order."""

    def __init__(self, script: Script | Replay, disclosure: str) -> None:
        super().__init__(ScriptedCaller([]))
        self.script = script
        self.disclosure = disclosure
        self.timeline: list[tuple[str, Any]] = []
        self.state = ""

    def event(self, event: RunEvent) -> None:
        if isinstance(event, StateEntered):
            self.state = event.state
        self.timeline.append(("event", event))

    async def say(self, prompt_id: str, text: str, *, barge_in: BargeIn) -> CallerEvent | None:
        if isinstance(self.script, Replay):
            items = self.script.items
            if items and items[0][0] == "barge" and items[0][1:3] == (self.state, prompt_id):
                return items.pop(0)[3]
            return None
        return (None, Dtmf("9"))[self.script.pick(2)]

    async def listen(self, spec: ListenSpec) -> CallerEvent:
        self.timeline.append(("listen", spec.state))
        if isinstance(self.script, Replay):
            items = self.script.items
            if items and items[0][0] == "listen":
                return items.pop(0)[3]
            return self.script.passive
        answer = LISTEN_CHOICES[self.script.pick(len(LISTEN_CHOICES))]
        return self.script.passive if answer is None else answer

    async def opt_out(self) -> None:
        self.timeline.append(("opt_out", None))

    async def handoff(self, handoff: Handoff, context: HandoffContext) -> bool:
        self.timeline.append(("handoff", handoff.queue))
        return False  # nobody accepts: every path after a handoff stays to be checked

    async def callback(self, when: str | None) -> None:
        self.timeline.append(("callback", when))


def violations(loaded: LoadedFlow, host: WatchedHost) -> set[str]:
    """The properties the run broke, read from what happened (see the module docstring)."""
    flow = loaded.flow
    questions = {p for s in flow.states.values() if s.listen is not None for p in s.say}
    broken: set[str] = set()
    disclosed = opted = pending = gone = sensitive = False
    state = ""
    for kind, item in host.timeline:
        if kind == "event" and isinstance(item, StateEntered):
            state, sensitive = item.state, item.sensitive
        elif kind == "event" and isinstance(item, PromptStarted):
            if item.prompt_id == flow.disclosure:
                if sensitive:
                    broken.add("disclosure-recorded")
                disclosed = True
            elif not disclosed:
                broken.add("disclosure-first")
            if pending:
                broken.add("opt-out-honoured")
            listening = flow.states[state].listen is not None
            pitch = item.prompt_id in questions and item.prompt_id != flow.disclosure
            if opted and not listening and pitch:
                broken.add("opt-out-final")
        elif kind == "event" and isinstance(item, CallerEventHeard):
            heard = item.event
            if isinstance(heard, Hangup):
                gone = True
            asks = (isinstance(heard, Dtmf) and heard.is_opt_out) or (
                isinstance(heard, Utterance) and heard.text == PHRASES["opt_out"]
            )
            if asks and not opted:
                pending = True
        elif kind == "event" and isinstance(item, OutcomeReached):
            if pending and not gone:
                broken.add("opt-out-honoured")
            if item.outcome is Outcome.FAILED and "transitions" in (item.reason or ""):
                broken.add("loop")
        elif kind in ("listen", "handoff", "callback"):
            if kind == "handoff" and not disclosed:
                broken.add("disclosure-first")
            if pending:
                broken.add("opt-out-honoured")
            elif opted:
                broken.add("opt-out-final")
        elif kind == "opt_out":
            opted, pending = True, False
    return broken


def read_intent(text: str, locale: str, allowed: Collection[str] | None) -> IntentResult:
    """The runtime's intent reader, each distinct question asked once: thousands of runs hear
    the same three phrases (the property test's time went into reading them again)."""
    return _read(text, locale, None if allowed is None else tuple(allowed))


@functools.cache
def _read(text: str, locale: str, allowed: tuple[str, ...] | None) -> IntentResult:
    return recognize(text, locale, allowed)


def entry_flow(loaded: LoadedFlow, entry: str) -> tuple[LoadedFlow, FlowSpec]:
    """The flow as a call from ``entry`` (``start`` or ``voicemail``) runs it, compiled."""
    if entry == "voicemail":
        assert loaded.flow.voicemail is not None
        flow = loaded.flow.model_copy(update={"start": loaded.flow.voicemail})
        loaded = LoadedFlow(loaded.path, flow, loaded.document, loaded.prompts_dir, loaded.prompts)
    return loaded, compile_flow(loaded.flow)


def run_once(
    loop: asyncio.Runner,
    loaded: LoadedFlow,
    entry: str,
    host: WatchedHost,
    spec: FlowSpec | None = None,
) -> set[str]:
    """One call from ``entry`` (``start`` or ``voicemail``) through the simulator, on ``loop``
    (one event loop for all runs: a new loop per run was a tenth of the test); ``spec`` is
    ``loaded`` compiled for that entry (compiled here when not given)."""
    if spec is None:
        loaded, spec = entry_flow(loaded, entry)
    elif entry == "voicemail":
        loaded, _ = entry_flow(loaded, entry)
    try:
        loop.run(simulate(loaded, host, on_event=host.event, spec=spec, recognizer=read_intent))
    except (KeyError, ValueError):  # a prompt needs a variable nobody set on this path
        return violations(loaded, host) | {"variable"}
    return violations(loaded, host)


def entries(loaded: LoadedFlow) -> list[str]:
    return ["start"] + (["voicemail"] if loaded.flow.voicemail is not None else [])


def enumerate_runs(
    loop: asyncio.Runner, loaded: LoadedFlow
) -> Iterator[tuple[str, list[int], set[str]]]:
    """Every choice sequence up to :data:`DEPTH`, from every entry, with what it broke."""
    for entry in entries(loaded):
        _, spec = entry_flow(loaded, entry)
        for passive in (NoInput(), Utterance(GIBBERISH)):
            stack: list[list[int]] = [[]]
            while stack:
                forced = stack.pop()
                script = Script(forced=forced, passive=passive)
                host = WatchedHost(script, loaded.flow.disclosure)
                yield entry, forced, run_once(loop, loaded, entry, host, spec)
                for position in range(len(forced), len(script.seen)):
                    prefix = [*forced, *([0] * (position - len(forced)))]
                    stack.extend([*prefix, option] for option in range(1, script.seen[position]))


# ---- replaying a counterexample ----------------------------------------------------------------


def replay_of(trace: tuple[TraceStep, ...], passive: CallerEvent) -> Replay:
    """The host inputs that walk ``trace``."""
    items: list[tuple[str, str | None, str | None, CallerEvent]] = []
    source = trace[0].state
    for step in trace[1:]:
        event = _event(step.event)
        if event is not None:
            for _ in range(step.repeat):
                if step.during is not None:
                    items.append(("barge", source, step.during, event))
                else:
                    items.append(("listen", None, None, event))
        source = step.state
    return Replay(items, passive)


def _event(name: str) -> CallerEvent | None:
    if name.startswith("dtmf."):
        return Dtmf(name.removeprefix("dtmf."))
    if name.startswith("intent."):
        return Utterance(PHRASES[name.removeprefix("intent.")])
    events: dict[str, CallerEvent] = {
        "no_input": NoInput(),
        "no_match": Utterance(GIBBERISH),
        "hangup": Hangup(),
    }
    return events.get(name)


def replays_to_its_violation(loop: asyncio.Runner, loaded: LoadedFlow, finding: Finding) -> bool:
    prop = RULE_PROPERTY[finding.rule]
    passive: CallerEvent = (
        Utterance(GIBBERISH) if "never understood" in finding.message else NoInput()
    )
    replay = replay_of(finding.trace, passive)
    if "does not hear the spoken opt-out" in finding.message:
        replay.items.append(("listen", None, None, Utterance(PHRASES["opt_out"])))
    host = WatchedHost(replay, loaded.flow.disclosure)
    return prop in run_once(loop, loaded, finding.trace[0].event, host)


# ---- the properties ---------------------------------------------------------------------------


def check_flow(loop: asyncio.Runner, folder: Path, flow: dict[str, Any]) -> set[str]:
    """Assert both properties for one flow; return what its runs broke."""
    loaded = _write(folder, flow)
    findings = lint(loaded)
    rules = {f.rule for f in findings if f.severity is Severity.ERROR}
    # A runtime violation is explained by a finding of its rule on a path (with a trace), not
    # by an unrelated finding of the same rule elsewhere; only prompt-missing is static (the
    # runner refuses such a flow before any call).
    explained = {
        f.rule
        for f in findings
        if f.severity is Severity.ERROR and (f.trace or f.rule == "prompt-missing")
    }
    document = yaml.safe_dump(flow, sort_keys=False)
    seen: set[str] = set()
    for entry, choices, broken in enumerate_runs(loop, loaded):
        seen |= broken
        for prop in broken:
            assert PROPERTY_RULES[prop] & explained, (
                f"the runtime broke {prop} (entry {entry}, choices {choices}) but the lint "
                f"reported only {sorted(rules)}:\n{document}"
            )
    if "prompt-missing" in rules:
        return seen  # the runner refuses such a flow before the call: nothing to replay
    for finding in findings:
        if finding.trace and finding.rule in RULE_PROPERTY:
            assert replays_to_its_violation(loop, loaded, finding), (
                f"the counterexample does not replay: {finding}\n{document}"
            )
    return seen


EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the same flows on every run: a CI failure reproduces
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the message holds the whole flow
)
"""Enough examples that disabling any one check of the lint makes the test fail (see the
closing note of issue 15)."""


def test_lint_is_sound_and_its_counterexamples_replay() -> None:
    found: set[str] = set()

    @EXAMPLES
    @given(flow=flows())
    def each(flow: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            found.update(check_flow(loop, Path(scratch), flow))

    with asyncio.Runner() as loop:
        each()
    # Only flows that break each property prove the lint finds it: the generator must write
    # every family within these examples.
    assert found == set(PROPERTY_RULES), sorted(found)
