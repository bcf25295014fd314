"""``voicebot intent TEXT``: what the engine would make of a caller's words.

Lets a flow designer check a lexicon against real utterances (and ASR transcripts) without
placing a call: the intent, its score and the phrase that decided it.
"""

from __future__ import annotations

import json
import re

import click

from voicebot.speech.intent import INTENTS, recognize
from voicebot.speech.lexicon import known_locales

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def default_locale(text: str) -> str:
    """``zh-CN`` when the text holds Chinese characters, else ``en-US``."""
    return "zh-CN" if _CJK.search(text) else "en-US"


@click.command()
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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def intent(text: str, locale: str | None, allowed: tuple[str, ...], as_json: bool) -> None:
    """Recognize the intent of TEXT, as a caller's utterance."""
    locale = locale or default_locale(text)
    match = recognize(text, locale, allowed or None)
    if as_json:
        record = {
            "intent": match.intent,
            "score": match.score,
            "phrase": match.phrase,
            "negated": match.negated,
            "locale": locale,
        }
        click.echo(json.dumps(record, ensure_ascii=False))
        return
    if match.intent is None:
        click.echo(f"no intent ({locale}: nothing matched well enough)")
        return
    how = "negated " if match.negated else ""
    click.echo(f"{match.intent}  score {match.score:.2f}  ({locale}, {how}phrase {match.phrase!r})")
