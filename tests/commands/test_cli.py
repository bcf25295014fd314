"""Every command the CLI advertises must import and show its help."""

from __future__ import annotations

import click
from click.testing import CliRunner

from voicebot.cli import cli


def _walk(group: click.Group, ctx: click.Context, prefix: list[str]) -> list[list[str]]:
    paths = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"{' '.join([*prefix, name])} is listed but does not load"
        paths.append([*prefix, name])
        if isinstance(command, click.Group):
            paths.extend(_walk(command, click.Context(command), [*prefix, name]))
    return paths


def test_every_command_shows_help() -> None:
    runner = CliRunner()
    paths = _walk(cli, click.Context(cli), [])
    assert paths
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output, result.exception)
