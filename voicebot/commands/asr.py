"""``voicebot asr eval CORPUS``: how well a recognizer (or a chain) hears a labelled corpus.

Thin: builds the recognizers, runs :mod:`voicebot.speech.asr.evaluation`, prints a table (or
``--json``). The corpus comes from ``benchmarks/asr_corpus.py`` or any directory in its format.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from voicebot.speech.asr.base import AsrError, Recognizer
from voicebot.speech.asr.chain import ChainRecognizer
from voicebot.speech.asr.evaluation import (
    Clip,
    CorpusError,
    Heard,
    Report,
    evaluate,
    load_manifest,
)
from voicebot.speech.asr.models import ModelError
from voicebot.speech.asr.select import ENGINES, recognizer_for
from voicebot.speech.intent import INTENTS

PRIMARY = ("opt_out", "refuse")
"""Intents whose recall is printed beside the accuracy: the ones a miss turns into harm."""


@click.group()
def asr() -> None:
    """Measure speech recognition on a labelled audio corpus."""


def parse_chain(spec: str) -> list[str]:
    """``pocketsphinx>whisper`` -> the engines in order, each checked. Packaged Whisper
    weights may be named instead of ``whisper`` (``whisper-base``) to compare models."""
    from voicebot.speech.asr.whisper import PACKAGED

    engines = [part.strip() for part in spec.split(">")]
    if engines == ["auto"]:
        return engines
    for engine in engines:
        if engine not in ENGINES and engine not in PACKAGED:
            raise click.BadParameter(
                f"{engine!r}: expected one of {', '.join([*ENGINES, *PACKAGED])}, or a chain "
                "like pocketsphinx>whisper",
                param_hint="--engine",
            )
    return engines


def build(engine: str, locale: str) -> Recognizer:
    """The recognizer an engine name (or packaged Whisper weights' name) means for a locale."""
    from voicebot.speech.asr.whisper import PACKAGED

    if engine == "auto":
        return recognizer_for(locale)
    if engine in PACKAGED:
        return recognizer_for(locale, model=engine, engine="whisper")
    return recognizer_for(locale, engine=engine)


def spread(clips: Sequence[Clip], limit: int) -> list[Clip]:
    """At most ``limit`` clips per locale, evenly spaced (every voice, line and intent)."""
    kept: list[Clip] = []
    for locale in dict.fromkeys(c.locale for c in clips):
        mine = [c for c in clips if c.locale == locale]
        step = max(1.0, len(mine) / limit)
        kept += [mine[int(i * step)] for i in range(min(limit, len(mine)))]
    return kept


@asr.command("eval")
@click.argument("corpus", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--engine",
    "spec",
    default="auto",
    show_default=True,
    help="An engine, or a chain A>B (B hears a clip unless A's words match a lexicon phrase "
    "near-exactly); auto: what a call in the clip's locale would get.",
)
@click.option("--locale", "locales", multiple=True, help="Only these locales (repeatable).")
@click.option("--split", type=click.Choice(["dev", "heldout"]), help="Only this part.")
@click.option("--limit", type=int, help="At most this many clips per locale.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--details", is_flag=True, help="With --json: every clip's transcript too.")
def eval_command(
    corpus: Path,
    spec: str,
    locales: tuple[str, ...],
    split: str | None,
    limit: int | None,
    as_json: bool,
    details: bool,
) -> None:
    """Word error rate, intent accuracy and confusion, time per utterance on CORPUS."""
    engines = parse_chain(spec)
    try:
        clips = load_manifest(corpus)
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from exc
    clips = [c for c in clips if (not locales or c.locale in locales)]
    clips = [c for c in clips if split is None or c.split == split]
    if limit is not None:
        clips = spread(clips, limit)
    if not clips:
        raise click.ClickException(f"{corpus}: no clip matches the filters")

    def chain_for(locale: str) -> Sequence[Recognizer]:
        chain: list[Recognizer] = []
        for engine in engines:
            try:
                chain.append(build(engine, locale))
            except (AsrError, ModelError, ValueError) as exc:
                raise click.ClickException(f"{engine} for {locale}: {exc}") from exc
        if len(chain) == 1 and isinstance(chain[0], ChainRecognizer):
            return chain[0].engines  # asked one by one, so the report shows the second pass
        return chain

    console = Console(stderr=True)
    with console.status("hearing...") as status:

        def progress(heard: Heard) -> None:
            status.update(f"hearing... {heard.clip.id}")

        reports, heard = evaluate(clips, chain_for, progress)
    if as_json:
        record: dict[str, object] = {
            "engine": spec,
            "reports": {k: v.as_dict() for k, v in sorted(reports.items())},
        }
        if details:
            record["clips"] = [
                {
                    "id": h.clip.id,
                    "text": h.clip.text,
                    "heard": h.transcript,
                    "intent": h.clip.intent,
                    "heard_intent": h.intent,
                    "engines": list(h.engines),
                    "seconds": round(h.seconds, 4),
                }
                for h in heard
            ]
        click.echo(json.dumps(record, ensure_ascii=False, indent=2))
        return
    _print(spec, reports)


def _print(spec: str, reports: dict[str, Report]) -> None:
    out = Console(width=160)
    table = Table(title=f"voicebot asr eval ({spec})")
    for column in (
        "set",
        "clips",
        "WER/CER",
        "intent acc",
        "words-only acc",
        *(f"{i} recall" for i in PRIMARY),
        "s/utt mean",
        "p95",
        "2nd pass",
    ):
        table.add_column(column, justify="left" if column == "set" else "right")
    for key, report in sorted(reports.items()):
        data = report.as_dict()
        recalls = [report.recall(i) for i in PRIMARY]
        table.add_row(
            key,
            str(report.clips),
            f"{report.error_rate:.1%}",
            f"{report.intent_accuracy:.1%}",
            f"{data['text_intent_accuracy']:.1%}",
            *("-" if r is None else f"{r:.1%}" for r in recalls),
            f"{data['seconds_mean']:.2f}",
            f"{data['seconds_p95']:.2f}",
            str(report.second_pass),
        )
    out.print(table)
    for key, report in sorted(reports.items()):
        if "/" in key:
            continue
        labels = [
            i
            for i in (*INTENTS, "none")
            if i in report.confusion or any(i in row for row in report.confusion.values())
        ]
        matrix = Table(title=f"{key}: intent confusion (rows: label, columns: heard)")
        matrix.add_column("label")
        for label in labels:
            matrix.add_column(label, justify="right")
        for label in labels:
            row = report.confusion.get(label)
            if row:
                matrix.add_row(label, *(str(row.get(h, 0) or "") for h in labels))
        out.print(matrix)
