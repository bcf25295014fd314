"""``voicebot flow graph FILE``: the flow as a Mermaid diagram, or a standalone HTML page."""

from __future__ import annotations

from pathlib import Path

import click

from voicebot.flow.graph import to_html, to_mermaid
from voicebot.flow.loader import load_flow
from voicebot.yamlsource import SourceErrors

EXIT_LOAD_ERROR = 2


@click.command("graph")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--html",
    "html_out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a standalone HTML page (diagram + Mermaid source) here instead.",
)
def graph(file: Path, html_out: Path | None) -> None:
    """Print FILE's flow as Mermaid text (paste into Markdown), or write it as HTML."""
    try:
        loaded = load_flow(file)
    except SourceErrors as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        raise SystemExit(EXIT_LOAD_ERROR) from None
    if html_out is None:
        click.echo(to_mermaid(loaded.flow, loaded.name), nl=False)
        return
    html_out.write_text(to_html(loaded), encoding="utf-8")
    click.echo(f"wrote {html_out}")
