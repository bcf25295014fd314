"""``voicebot bench flow [FILE]``: what a call's state machine and flow run cost.

A dialer creates one machine per call, so the figures that matter are the time and memory of
creating machines from a compiled flow, and the time of one whole simulated call (runner,
intent recognizer, no audio). A plain ``AsyncMachine`` built from the same table is measured
beside them, for the ratio. Figures only: the machine is shared, so no pass/fail here.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from transitions.extensions.asyncio import AsyncMachine

from voicebot.flow.loader import load_flow
from voicebot.flow.machine import FlowSpec, compile_flow
from voicebot.flow.simulate import INPUT_FORMS, ScriptedCaller, TextHost, parse_input, simulate
from voicebot.resources import flows_dir
from voicebot.yamlsource import SourceErrors


class _Model:
    state: str


def _plain_machine(spec: FlowSpec) -> Callable[[], object]:
    """A machine built the textbook way from the same table, for comparison."""
    states = list(spec.states)
    rows = [{"trigger": t.trigger, "source": t.source, "dest": t.dest} for t in spec.transitions]
    return lambda: AsyncMachine(
        model=_Model(),
        states=states,
        transitions=rows,
        initial=spec.flow.start,
        auto_transitions=False,
    )


def _time(make: Callable[[], object], count: int) -> float:
    make()  # warm up caches and lazy imports
    start = time.perf_counter()
    for _ in range(count):
        make()
    return time.perf_counter() - start


def _memory(make: Callable[[], object], count: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(count)]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return (after - before) / count


@click.command("flow")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--count", default=1000, show_default=True, type=click.IntRange(1), help="Machines to create."
)
@click.option(
    "--runs",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="Simulated calls to time.",
)
@click.option(
    "--input",
    "input_texts",
    multiple=True,
    metavar="INPUT",
    help=f"Caller input of the timed call ({INPUT_FORMS}); default: silent caller.",
)
def bench_flow(file: Path | None, count: int, runs: int, input_texts: tuple[str, ...]) -> None:
    """Time and size per-call machines of FILE (default: the marketing example)."""
    path = file if file is not None else flows_dir() / "marketing_offer.yaml"
    try:
        loaded = load_flow(path)
        inputs = [parse_input(text) for text in input_texts]
    except SourceErrors as errors:
        for error in errors.errors:
            click.echo(str(error), err=True)
        sys.exit(2)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--input") from None

    start = time.perf_counter()
    spec = compile_flow(loaded.flow)
    compile_s = time.perf_counter() - start
    plain = _plain_machine(spec)
    lean_s, plain_s = _time(spec.new_machine, count), _time(plain, count)
    lean_b, plain_b = _memory(spec.new_machine, count), _memory(plain, count)

    contact = {name: f"[{name}]" for name in loaded.flow.variables}

    async def calls() -> tuple[float, str, int]:
        outcome, said = "", 0
        start = time.perf_counter()
        for _ in range(runs):
            host = TextHost(ScriptedCaller(inputs))
            result = await simulate(loaded, host, contact=contact, spec=spec)
            outcome, said = result.outcome.value, len(host.said)
        return time.perf_counter() - start, outcome, said

    try:
        run_s, outcome, said = asyncio.run(calls())
    except ValueError as error:
        click.echo(f"{path}: {error}", err=True)
        sys.exit(2)

    table = Table(
        title=f"{loaded.name}: {len(spec.states)} states, {len(spec.transitions)} transitions"
    )
    table.add_column("what")
    table.add_column("total", justify="right")
    table.add_column("per item", justify="right")
    table.add_row("compile the flow (once)", f"{compile_s * 1e3:.2f} ms", "")
    table.add_row(
        f"create {count} machines (shared spec)",
        f"{lean_s * 1e3:.1f} ms",
        f"{lean_s / count * 1e6:.1f} µs",
    )
    table.add_row(
        f"create {count} plain AsyncMachines",
        f"{plain_s * 1e3:.1f} ms",
        f"{plain_s / count * 1e6:.1f} µs",
    )
    table.add_row("memory per machine (shared spec)", "", f"{lean_b / 1024:.1f} KiB")
    table.add_row("memory per plain AsyncMachine", "", f"{plain_b / 1024:.1f} KiB")
    table.add_row(
        f"{runs} simulated calls -> {outcome}, {said} prompts each",
        f"{run_s * 1e3:.1f} ms",
        f"{run_s / runs * 1e3:.2f} ms",
    )
    Console().print(table)
