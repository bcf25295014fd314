"""``voicebot flow simulate FILE``: talk to a flow in text, or replay a scripted caller.

Thin: parses options, loads the flow, then runs :mod:`voicebot.flow.simulate`. With ``--json``
stdout carries exactly one JSON document; everything else (warnings, an interactive
conversation) goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.prompt import Prompt

from voicebot.commands.pairs import key_values
from voicebot.flow.events import CallerEvent
from voicebot.flow.loader import load_flow
from voicebot.flow.machine import compile_flow
from voicebot.flow.simulate import (
    INPUT_FORMS,
    Caller,
    ConversationPrinter,
    ScriptedCaller,
    TextHost,
    TypedCaller,
    fill_contact,
    parse_input,
    result_json,
)
from voicebot.flow.simulate import (
    simulate as run_simulation,
)
from voicebot.yamlsource import SourceErrors


def _inputs(texts: tuple[str, ...]) -> list[CallerEvent]:
    try:
        return [parse_input(text) for text in texts]
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--input") from None


def _line_reader(console: Console) -> Callable[[str], str]:
    """A person at a terminal gets a prompt; piped input is read line by line, silently
    (the conversation printer shows each line as the caller's)."""
    if sys.stdin.isatty():
        return lambda hint: Prompt.ask(hint, console=console, default="", show_default=False)

    def read(hint: str) -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line

    return read


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--contact",
    "contact_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A contact value for the prompts' {variables}; repeat for several.",
)
@click.option(
    "--input",
    "input_texts",
    multiple=True,
    metavar="INPUT",
    help=f"Scripted caller input, one per listen: {INPUT_FORMS}. "
    "Without any, the conversation is interactive.",
)
@click.option(
    "--agent",
    type=click.Choice(["none", "available"]),
    default="none",
    show_default=True,
    help="Whether a handoff finds an agent (else its fallback).",
)
@click.option(
    "--answered-by",
    type=click.Choice(["person", "machine"]),
    default="person",
    show_default=True,
    help="A machine runs the flow's voicemail state (the message left after the beep).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document: outcome, transcript, states, variables.",
)
def simulate(
    file: Path,
    contact_pairs: tuple[str, ...],
    input_texts: tuple[str, ...],
    agent: str,
    answered_by: str,
    as_json: bool,
) -> None:
    """Run FILE's flow with the real state machine and intent recognizer, in text.

    \b
    Scripted:    voicebot flow simulate flows/marketing_offer.yaml --input dtmf:9 --json
    Interactive: voicebot flow simulate flows/satisfaction_survey.yaml
    """
    contact = key_values(contact_pairs, "--contact")
    inputs = _inputs(input_texts)
    err = Console(stderr=True, highlight=False)
    try:
        loaded = load_flow(file)
    except SourceErrors as errors:
        for error in errors.errors:
            click.echo(str(error), err=True)
        sys.exit(2)
    flow = loaded.flow
    if answered_by == "machine":
        if flow.voicemail is None:
            click.echo(
                f"{file}: the flow has no voicemail state; a machine is hung up on", err=True
            )
            sys.exit(2)
        flow = flow.model_copy(update={"start": flow.voicemail})
    spec = compile_flow(flow)
    _, missing = fill_contact(spec, contact)
    if missing:
        shown_as = ", ".join(escape(f"[{name}]") for name in missing)
        err.print(
            f"[yellow]warning:[/] no --contact value for {', '.join(missing)}; saying {shown_as}"
        )
    interactive = not inputs
    # The conversation goes to stdout, or to stderr when stdout carries the JSON document.
    shown = err if as_json else Console(highlight=False)
    caller: Caller
    caller = TypedCaller(_line_reader(shown)) if interactive else ScriptedCaller(inputs)
    printer = ConversationPrinter(shown) if (interactive or not as_json) else None
    host = TextHost(caller, agent_available=agent == "available")
    try:
        result = asyncio.run(
            run_simulation(loaded, host, contact=contact, on_event=printer, spec=spec)
        )
    except ValueError as error:
        click.echo(f"{file}: {error}", err=True)
        sys.exit(2)
    except KeyError as error:  # a variable set on another branch only: the call fails here
        reason = str(error).strip("'\"")
        click.echo(
            f"{file}: the call fails here: {reason} (no `set` stored it on this path; "
            "`voicebot flow lint` reports it as variable-defined)",
            err=True,
        )
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(result_json(result), ensure_ascii=False, indent=2))
