"""``voicebot prompts render FLOW``: synthesize every prompt of a flow before any call.

A call never waits for TTS on what it can know in advance, and the disclosure is never
synthesized live: it must be in the cache before the first call, so this command fails if
the disclosure cannot be rendered. Prompts that need contact variables (``{name}``) are
rendered at call time, unless ``--var`` gives them values.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from voicebot.audio import duration_ms
from voicebot.commands.pairs import key_values
from voicebot.flow.loader import LoadedFlow, load_flow
from voicebot.flow.model import Flow
from voicebot.speech.tts import Synthesizer, TtsCache, TtsError, synthesizer_for
from voicebot.speech.tts.fallback import FallbackSynthesizer
from voicebot.speech.tts.select import ENGINES
from voicebot.yamlsource import SourceErrors


def prompt_ids(flow: Flow) -> list[str]:
    """Every prompt id a flow can say (disclosure first), each once, in flow order."""
    ids = [flow.disclosure]
    for state in flow.states.values():
        ids += state.say
        if state.listen is not None:
            ids += state.listen.reprompt
        for action in state.do:
            if action.handoff is not None:
                ids += [p for p in (action.handoff.hold, action.handoff.whisper) if p]
    return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class Rendered:
    """What happened to one prompt."""

    prompt_id: str
    status: str  # "cached", "rendered" or "call time"
    seconds: float | None = None
    needs: tuple[str, ...] = ()


def _label(synth: Synthesizer) -> str:
    if isinstance(synth, FallbackSynthesizer):
        return f"{_label(synth.primary)}, else {_label(synth.secondary)}"
    return f"{synth.engine}/{synth.voice}"


async def render_flow(
    loaded: LoadedFlow, synth: Synthesizer, variables: dict[str, str], progress: Progress
) -> list[Rendered]:
    """Render every prompt whose variables are known; the disclosure must be among them."""
    catalog = loaded.prompts
    if catalog is None:
        raise click.ClickException(
            f"{loaded.path}: no prompts for locale {loaded.flow.locale} in {loaded.prompts_dir}"
        )
    ids = prompt_ids(loaded.flow)
    missing = [p for p in ids if p not in catalog]
    if missing:
        raise click.ClickException(
            f"{loaded.path}: prompts missing from {loaded.prompts_dir}/"
            f"{loaded.flow.locale}.yaml: {', '.join(missing)}"
        )
    known = {"company": loaded.flow.company, **variables}
    task = progress.add_task(f"{loaded.name} ({_label(synth)})", total=len(ids))
    results: list[Rendered] = []
    for prompt_id in ids:
        needs = tuple(sorted(catalog.variables(prompt_id) - known.keys()))
        if needs:
            if prompt_id == loaded.flow.disclosure:
                raise click.ClickException(
                    f"the disclosure {prompt_id!r} needs {', '.join(needs)}; it must be "
                    "pre-rendered, so it may use only {company} (or pass --var)"
                )
            results.append(Rendered(prompt_id, "call time", needs=needs))
        else:
            text = catalog.render(prompt_id, known)
            was_cached = synth.cached(text) is not None
            pcm = await synth.render(text)
            status = "cached" if was_cached else "rendered"
            results.append(Rendered(prompt_id, status, duration_ms(pcm) / 1000))
        progress.advance(task)
    return results


@click.group()
def prompts() -> None:
    """Pre-render a flow's prompts into the TTS cache."""


@prompts.command("render")
@click.argument("flow_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default=None,
    help="TTS engine (default: $VOICEBOT_TTS, else auto).",
)
@click.option("--voice", help="Engine-specific voice (default: the engine's voice for the locale).")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Cache directory (default: $VOICEBOT_CACHE_DIR/tts or the user cache dir).",
)
@click.option("--var", "pairs", multiple=True, help="NAME=VALUE for a prompt variable.")
def render(
    flow_file: Path,
    engine: str | None,
    voice: str | None,
    cache_dir: Path | None,
    pairs: tuple[str, ...],
) -> None:
    """Render every prompt of FLOW_FILE (the disclosure must succeed)."""
    variables = key_values(pairs, "--var")
    try:
        loaded = load_flow(flow_file)
    except SourceErrors as exc:
        raise click.ClickException(str(exc)) from exc
    console = Console(stderr=True)

    async def run() -> tuple[Synthesizer, list[Rendered]]:
        cache = TtsCache(cache_dir) if cache_dir is not None else TtsCache()
        synth = await synthesizer_for(loaded.flow.locale, engine, voice, cache)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as progress:
            return synth, await render_flow(loaded, synth, variables, progress)

    try:
        synth, results = asyncio.run(run())
    except (TtsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    table = Table(title=f"{loaded.name}: {_label(synth)} -> {synth.cache.directory}")
    table.add_column("prompt")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    for r in results:
        detail = f"{r.seconds:.1f}" if r.seconds is not None else "needs " + ", ".join(r.needs)
        table.add_row(r.prompt_id, r.status, detail)
    Console(width=120).print(table)
