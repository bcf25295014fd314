"""``voicebot intent``: what the engine makes of a caller's words, and how well it does.

- ``voicebot intent TEXT [--explain]``: the intent, its score and what decided it, without
  placing a call (check a lexicon against real utterances and ASR transcripts);
- ``voicebot intent eval``: accuracy, confusion matrix and opt-out figures on the labelled
  utterances, dev and held-out apart;
- ``voicebot intent train``: retrain the shipped classifier from the dev utterances.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from voicebot.speech.intent import INTENTS
from voicebot.speech.lexicon import known_locales

F = TypeVar("F", bound=Callable[..., Any])

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def default_locale(text: str) -> str:
    """``zh-CN`` when the text holds Chinese characters, else ``en-US``."""
    return "zh-CN" if _CJK.search(text) else "en-US"


class _TextOrCommand(click.Group):
    """``voicebot intent TEXT`` reads TEXT; ``voicebot intent eval|train`` run those commands.

    A broken lexicon or corpus file is reported as ``file:line: field: message``, never as a
    traceback.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["text", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        from voicebot.speech.corpus import CorpusError
        from voicebot.yamlsource import SourceErrors

        try:
            return super().invoke(ctx)
        except (SourceErrors, CorpusError) as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_TextOrCommand)
def intent() -> None:
    """Recognize the intent of a caller's words (voicebot intent TEXT), or measure it."""


@intent.command("text")
@click.argument("text")
@click.option(
    "--locale",
    type=click.Choice(known_locales()),
    help="Lexicon to use [default: zh-CN if TEXT has Chinese characters, else en-US].",
)
@click.option(
    "--allow",
    "allowed",
    multiple=True,
    type=click.Choice(INTENTS),
    help="Only these intents count, as in a state's listen.intents (repeatable).",
)
@click.option("--explain", is_flag=True, help="Say what the lexicon and the classifier found.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def text_command(
    text: str, locale: str | None, allowed: tuple[str, ...], explain: bool, as_json: bool
) -> None:
    """Recognize the intent of TEXT, as a caller's utterance."""
    from voicebot.speech.decision import decide

    locale = locale or default_locale(text)
    decision = decide(text, locale, allowed or None)
    match = decision.match
    if as_json:
        record: dict[str, Any] = {
            "intent": match.intent,
            "score": match.score,
            "phrase": match.phrase,
            "negated": match.negated,
            "source": match.source if match.intent else None,
            "locale": locale,
        }
        if explain:
            record["explain"] = _explanation(decision)
        click.echo(json.dumps(record, ensure_ascii=False))
        return
    if match.intent is None:
        click.echo(f"no intent ({locale}: nothing matched well enough)")
    elif match.source == "model":
        click.echo(f"{match.intent}  score {match.score:.2f}  ({locale}, classifier)")
    else:
        how = "negated " if match.negated else ""
        click.echo(
            f"{match.intent}  score {match.score:.2f}  ({locale}, {how}phrase {match.phrase!r})"
        )
    if explain:
        facts = _explanation(decision)
        click.echo(f"  lexicon:    {facts['lexicon']}")
        click.echo(f"  classifier: {facts['classifier']}")
        click.echo(f"  n-grams:    {facts['ngrams']}")
        click.echo(f"  opt-out cue: {facts['cue']}")
        click.echo(f"  decided by: {facts['reason']}")


def _explanation(decision: Any) -> dict[str, Any]:
    rules = decision.rules
    if rules.intent is not None:
        negated = " (negated)" if rules.negated else ""
        lexicon = f"{rules.intent} via phrase {rules.phrase!r}{negated}, score {rules.score:.2f}"
    elif decision.heard:
        lexicon = "heard a phrase that resolved to no allowed intent"
    else:
        lexicon = "no phrase"
    model = decision.model
    if model is None:
        classifier = "no model for this locale"
        grams = ""
    else:
        classifier = ", ".join(f"{label} {p:.2f}" for label, p in model.ranked[:3])
        grams = ", ".join(f"{g.strip('|')!r} {w:+.2f}" for g, w in model.evidence)
    return {
        "lexicon": lexicon,
        "classifier": classifier,
        "ngrams": grams,
        "cue": decision.cue,
        "reason": decision.reason,
    }


def _locales_option(help: str) -> Callable[[F], F]:
    """``--locale`` (repeatable): the locales to work on; none given means all."""
    return click.option(
        "--locale", "locales", multiple=True, type=click.Choice(known_locales()), help=help
    )


@intent.command("eval")
@_locales_option("Locale(s) to measure [default: all].")
@click.option(
    "--split",
    "splits",
    multiple=True,
    type=click.Choice(["dev", "heldout"]),
    help="Part(s) of the corpus [default: both, reported apart].",
)
@click.option(
    "--engine",
    type=click.Choice(["combined", "rules", "model"]),
    default="combined",
    show_default=True,
    help="The full engine, the lexicon rules alone, or the classifier alone.",
)
@click.option(
    "--corpus",
    "corpus_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A corpus file of your own (same format; needs --locale).",
)
@click.option("--errors", "show_errors", is_flag=True, help="List the misread utterances.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def eval_command(
    locales: tuple[str, ...],
    splits: tuple[str, ...],
    engine: str,
    corpus_file: Path | None,
    show_errors: bool,
    as_json: bool,
) -> None:
    """Accuracy, confusion matrix and opt-out figures on the labelled utterances."""
    from voicebot.speech.corpus import CorpusError, load_corpus, read_corpus_file
    from voicebot.speech.intent_eval import evaluate

    if corpus_file is not None and len(locales) != 1:
        raise click.UsageError("--corpus needs exactly one --locale")
    chosen = locales or known_locales()
    out: dict[str, Any] = {}
    for locale in chosen:
        try:
            corpus = (
                read_corpus_file(corpus_file, {*INTENTS, "none"})
                if corpus_file is not None
                else load_corpus(locale)
            )
        except CorpusError as exc:
            raise click.ClickException(str(exc)) from None
        reports = evaluate(corpus, _reader(engine, locale), INTENTS, splits or ("dev", "heldout"))
        out[locale] = [r.to_json() for r in reports]
        if not as_json:
            for report in reports:
                _print_report(locale, engine, report.to_json(), show_errors)
    if as_json:
        click.echo(json.dumps({"engine": engine, "locales": out}, ensure_ascii=False, indent=2))


def _reader(engine: str, locale: str) -> Any:
    from voicebot.speech.classifier import shipped_model
    from voicebot.speech.intent import lexicon_for, recognize, recognize_rules

    if engine == "rules":
        return lambda text: recognize_rules(text, locale)[0].intent
    if engine == "model":
        model = shipped_model(locale)
        if model is None:
            raise click.ClickException(f"no trained classifier for {locale}")
        lexicon = lexicon_for(locale)
        return lambda text: model.predict(text, lexicon).label
    return lambda text: recognize(text, locale).intent


def _print_report(locale: str, engine: str, r: dict[str, Any], show_errors: bool) -> None:
    click.echo(
        f"{locale} {r['split']} ({engine}): {r['utterances']} utterances, accuracy "
        f"{100 * r['accuracy']:.1f} %, opt_out recall {100 * r['opt_out_recall']:.1f} %, "
        f"false opt_out {100 * r['false_opt_out_rate']:.2f} %, "
        f"{r['ms_per_utterance']:.2f} ms/utterance"
    )
    labels = list(r["per_intent"])
    short = [label[:8] for label in labels]
    click.echo("  " + "expected \\ got".ljust(16) + " ".join(s.rjust(8) for s in short))
    for label in labels:
        row = r["confusion"][label]
        counts = " ".join(str(row[g]).rjust(8) for g in labels)
        stats = r["per_intent"][label]
        click.echo(
            f"  {label.ljust(16)}{counts}   recall {100 * stats['recall']:5.1f} %"
            f"  precision {100 * stats['precision']:5.1f} %"
        )
    if show_errors:
        for e in r["errors"]:
            click.echo(f"  line {e['line']}: {e['text']!r}: {e['expected']} -> {e['got']}")


@intent.command("train")
@_locales_option("Locale(s) to train [default: all].")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the models [default: the package's intent_models, to ship them].",
)
def train_command(locales: tuple[str, ...], output: Path | None) -> None:
    """Retrain the intent classifier from the dev utterances (never the held-out ones)."""
    from voicebot.speech.classifier import model_path_in_source, train

    for locale in locales or known_locales():
        model = train(locale, INTENTS)
        path = (output / f"{locale}.npz") if output else model_path_in_source(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
        click.echo(f"{locale}: {len(model.vocabulary)} n-grams -> {path}")
