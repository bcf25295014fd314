"""``voicebot flow schema``: write (or check) the flow JSON Schema editors use."""

from __future__ import annotations

from pathlib import Path

import click

from voicebot.flow.schema import render
from voicebot.resources import flows_dir

SCHEMA_FILE = "flow.schema.json"


@click.command("schema")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Where to write it ('-' for stdout; default: flows/{SCHEMA_FILE}).",
)
@click.option("--check", is_flag=True, help="Do not write; exit 1 if the file is out of date.")
def schema(output: Path | None, check: bool) -> None:
    """Generate the JSON Schema of flow files from the flow models."""
    text = render()
    if output is not None and str(output) == "-":
        click.echo(text, nl=False)
        return
    target = output if output is not None else flows_dir() / SCHEMA_FILE
    if check:
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current != text:
            state = "missing" if current is None else "out of date"
            click.echo(f"{target} is {state}; regenerate it with: voicebot flow schema", err=True)
            raise SystemExit(1)
        click.echo(f"{target} is up to date")
        return
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}")
