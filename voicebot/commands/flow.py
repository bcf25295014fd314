"""``voicebot flow ...``: check, draw and try flows before any call is placed."""

from __future__ import annotations

import click

from voicebot.commands.lazy import LazyGroup

SUBCOMMANDS = {
    "lint": "voicebot.commands.flow_lint:lint",
    "graph": "voicebot.commands.flow_graph:graph",
    "schema": "voicebot.commands.flow_schema:schema",
    "simulate": "voicebot.commands.flow_simulate:simulate",
    "approve": "voicebot.commands.flow_approve:approve",
}


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
def flow() -> None:
    """Lint, graph and simulate YAML flows."""
