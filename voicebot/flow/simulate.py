"""Try a flow in text before any call is placed: the real machine and intent recognizer, with
typed or scripted caller input instead of audio.

:class:`TextHost` is a :class:`~voicebot.flow.runner.FlowHost` whose caller is a script
(:class:`ScriptedCaller`, one input per listen, silence once it runs out) or a person at a
terminal (:class:`TypedCaller`). Nothing is dialled and nothing is written anywhere: an opt-out,
a callback or a handoff is only noted, so a designer can walk every path of a flow safely.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from rich.console import Console
from rich.markup import escape

from voicebot.flow.events import (
    ActionRun,
    CallerEvent,
    CallerEventHeard,
    Dtmf,
    Hangup,
    NoInput,
    OutcomeReached,
    PromptStarted,
    RunEvent,
    TransitionTaken,
    Utterance,
    caller_text,
)
from voicebot.flow.loader import LoadedFlow
from voicebot.flow.machine import FlowSpec, compile_flow
from voicebot.flow.model import DTMF_DIGITS, Handoff
from voicebot.flow.runner import (
    BargeIn,
    FlowResult,
    FlowRunner,
    HandoffContext,
    IntentReader,
    ListenSpec,
)

INPUT_FORMS = "dtmf:<digit>, say:<words>, silence or hangup"


def parse_input(text: str) -> CallerEvent:
    """One scripted input: ``dtmf:9``, ``say:我没兴趣``, ``silence`` or ``hangup``.

    Raises:
        ValueError: anything else, saying which forms exist.
    """
    kind, sep, value = text.partition(":")
    if not sep and kind.strip() in ("silence", "hangup"):
        return NoInput() if kind.strip() == "silence" else Hangup()
    if sep and kind == "dtmf":
        if len(value) == 1 and value in DTMF_DIGITS:
            return Dtmf(value)
        raise ValueError(f"--input {text!r}: dtmf takes one digit of {DTMF_DIGITS!r}")
    if sep and kind == "say":
        if value.strip():
            return Utterance(value.strip())
        raise ValueError(f"--input {text!r}: say needs words after 'say:'")
    raise ValueError(f"--input {text!r}: expected {INPUT_FORMS}")


class Caller(Protocol):
    """Where a simulated caller's answers come from."""

    def answer(self, spec: ListenSpec) -> CallerEvent:
        """The caller's reaction to one listen."""
        ...


class ScriptedCaller:
    """Answers from a list, one per listen; silent once the list is used up."""

    def __init__(self, inputs: Iterable[CallerEvent]) -> None:
        self._inputs = deque(inputs)

    @property
    def remaining(self) -> int:
        """Inputs not yet consumed."""
        return len(self._inputs)

    def answer(self, spec: ListenSpec) -> CallerEvent:
        """The next scripted input, or silence."""
        return self._inputs.popleft() if self._inputs else NoInput()


class TypedCaller:
    """A person typing: digits (``1``, or ``12`` for two presses), words, an empty line for
    silence, ``/hangup``. End of input (EOF) is silence, so piped input works too."""

    def __init__(self, read_line: Callable[[str], str]) -> None:
        self._read_line = read_line
        self._queued: deque[CallerEvent] = deque()
        self._closed = False

    def answer(self, spec: ListenSpec) -> CallerEvent:
        """Read the next line (or use the rest of a line of several digits)."""
        if self._queued:
            return self._queued.popleft()
        if self._closed:
            return NoInput()
        try:
            line = self._read_line(_hint(spec)).strip()
        except EOFError:
            self._closed = True
            return NoInput()
        if not line:
            return NoInput()
        if line == "/hangup":
            return Hangup()
        if all(c in DTMF_DIGITS for c in line):
            self._queued.extend(Dtmf(c) for c in line)
            return self._queued.popleft()
        return Utterance(line)


def _hint(spec: ListenSpec) -> str:
    keys = f"keys {spec.dtmf}" if spec.dtmf else "no keys"
    return f"caller ({keys}; words; empty = silence; /hangup)"


@dataclass
class TextHost:
    """A :class:`~voicebot.flow.runner.FlowHost` in text: never dials, never stores.

    Prompts are never interrupted (the caller answers when the bot listens). What the flow
    asked for (opt-out, callbacks, handoffs) is kept in the attributes for the tests.
    """

    caller: Caller
    agent_available: bool = False
    said: list[str] = field(default_factory=list)
    opted_out: bool = False
    callbacks: list[str | None] = field(default_factory=list)
    handoffs: list[tuple[Handoff, HandoffContext]] = field(default_factory=list)
    hung_up: bool = False

    async def say(self, prompt_id: str, text: str, *, barge_in: BargeIn) -> CallerEvent | None:
        self.said.append(prompt_id)
        return None

    async def listen(self, spec: ListenSpec) -> CallerEvent:
        return self.caller.answer(spec)

    async def opt_out(self) -> None:
        self.opted_out = True

    async def handoff(self, handoff: Handoff, context: HandoffContext) -> bool:
        self.handoffs.append((handoff, context))
        return self.agent_available

    async def callback(self, when: str | None) -> None:
        self.callbacks.append(when)

    async def hangup(self) -> None:
        self.hung_up = True


def fill_contact(spec: FlowSpec, contact: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The contact values, with ``[name]`` for each flow variable nobody gave.

    Returns:
        (variables, names filled with a placeholder).
    """
    variables = dict(contact)
    missing = [v for v in spec.flow.variables if v not in variables]
    variables.update({v: f"[{v}]" for v in missing})
    return variables, missing


async def simulate(
    loaded: LoadedFlow,
    host: TextHost,
    *,
    contact: Mapping[str, str] | None = None,
    recognizer: IntentReader | None = None,
    on_event: Callable[[RunEvent], None] | None = None,
    spec: FlowSpec | None = None,
) -> FlowResult:
    """Run ``loaded`` once against ``host``; missing contact values become ``[name]``.

    Raises:
        ValueError: the flow's locale has no prompts file, or a prompt is missing.
    """
    if loaded.prompts is None:
        raise ValueError(
            f"{loaded.path}: no prompts for locale {loaded.flow.locale} "
            f"(expected {loaded.prompts_dir / (loaded.flow.locale + '.yaml')})"
        )
    spec = spec if spec is not None else compile_flow(loaded.flow)
    variables, _ = fill_contact(spec, contact or {})
    runner = FlowRunner(
        spec,
        loaded.prompts,
        host,
        variables=variables,
        recognizer=recognizer,
        on_event=on_event,
    )
    return await runner.run()


class ConversationPrinter:
    """Prints a run as it happens: bot and caller lines, intents, actions, transitions."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, event: RunEvent) -> None:
        def out(markup: str) -> None:
            self.console.print(markup, soft_wrap=True)

        if isinstance(event, PromptStarted):
            out(f"[bold cyan]bot[/]     {escape(event.text)}")
        elif isinstance(event, CallerEventHeard):
            text = escape(caller_text(event.event))
            if isinstance(event.event, Utterance):
                intent = event.event.intent or "no intent"
                text += f" [dim]({escape(intent)} {event.event.score:.2f})[/]"
            out(f"[bold green]caller[/]  {text}")
        elif isinstance(event, ActionRun):
            out(f"[magenta]  do {event.kind}[/] [dim]{escape(event.detail)}[/]")
        elif isinstance(event, TransitionTaken):
            dest = event.dest or f"{event.source} (stays)"
            out(f"[dim]  {event.source} --{event.trigger}--> {dest}[/]")
        elif isinstance(event, OutcomeReached):
            reason = f" [dim]({escape(event.reason)})[/]" if event.reason else ""
            out(f"[bold]outcome: {event.outcome.value}[/]{reason}")


def result_json(result: FlowResult) -> dict[str, object]:
    """The ``--json`` document: outcome, transcript, states visited, variables."""
    return {
        "outcome": result.outcome.value,
        "transcript": [{"who": line.who, "text": line.text} for line in result.transcript],
        "states": list(result.states),
        "variables": dict(result.variables),
        "reason": result.reason,
    }
