"""``voicebot bench ...``: benchmarks that print figures (targets live here, not in tests)."""

from __future__ import annotations

import click

from voicebot.commands.lazy import LazyGroup

SUBCOMMANDS = {
    "flow": "voicebot.commands.bench_flow:bench_flow",
    "calls": "voicebot.commands.bench_calls:bench_calls",
    "gate": "voicebot.commands.bench_gate:bench_gate",
    "campaign": "voicebot.commands.bench_campaign:bench_campaign",
}


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
def bench() -> None:
    """Measure speed and memory; compare ratios within one run on a shared machine."""
