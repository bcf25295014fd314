"""The labelled utterances: what callers say, per locale, and what they mean.

One plain tab-separated file per locale (``voicebot/speech/utterances/<locale>.tsv``) so other
tools (the audio corpus, spreadsheets) can read it without voicebot: a header line
``text<TAB>intent<TAB>split``, then one utterance a line; lines starting with ``#`` are
comments. ``intent`` is an intent name or ``none``; ``split`` is ``dev`` (tunes the lexicon and
trains the classifier) or ``heldout`` (only measured, never tuned on or trained from).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

NONE = "none"
"""The label of an utterance that means no intent at all."""

SPLITS = ("dev", "heldout")
COLUMNS = ("text", "intent", "split")


class CorpusError(ValueError):
    """A malformed corpus file; the message names the file, line and field."""


@dataclass(frozen=True)
class Utterance:
    """One labelled utterance."""

    text: str
    intent: str
    """An intent name, or :data:`NONE`."""
    split: str
    """``dev`` or ``heldout``."""
    line: int
    """Line in its file (for error messages and eval reports)."""


def utterances_root() -> Traversable:
    """The folder of corpus files shipped inside the package."""
    return resources.files("voicebot.speech").joinpath("utterances")


def corpus_locales() -> tuple[str, ...]:
    """Locales that have a corpus file, sorted."""
    return tuple(
        sorted(
            e.name.removesuffix(".tsv")
            for e in utterances_root().iterdir()
            if e.name.endswith(".tsv")
        )
    )


def corpus_text(locale: str) -> str:
    """The raw text of a locale's corpus file (ValueError naming the known locales if none)."""
    known = corpus_locales()
    if locale not in known:
        raise ValueError(f"no labelled utterances for locale {locale!r}; known: {', '.join(known)}")
    return utterances_root().joinpath(f"{locale}.tsv").read_text(encoding="utf-8")


def corpus_digest(locale: str, split: str = "dev") -> str:
    """SHA-256 of one split's (text, intent) pairs: what a trained model was trained from."""
    h = hashlib.sha256()
    for u in load_corpus(locale, (split,)):
        h.update(f"{u.text}\t{u.intent}\n".encode())
    return h.hexdigest()


def load_corpus(
    locale: str, splits: Collection[str] = SPLITS, intents: Iterable[str] | None = None
) -> list[Utterance]:
    """A locale's labelled utterances of the given splits, in file order.

    Args:
        locale: e.g. ``en-US``.
        splits: which parts to return.
        intents: the allowed labels besides ``none`` (default: the intents of
            :mod:`voicebot.speech.intent`).

    Raises:
        CorpusError: a malformed line (file, line and field named).
    """
    from voicebot.speech.intent import INTENTS

    labels = {*(INTENTS if intents is None else intents), NONE}
    return [
        u for u in parse_corpus(corpus_text(locale), f"{locale}.tsv", labels) if u.split in splits
    ]


def parse_corpus(text: str, file: str, labels: Collection[str]) -> list[Utterance]:
    """Parse corpus text; every problem is reported at once, each with its file and line."""
    errors: list[str] = []
    out: list[Utterance] = []
    seen: dict[str, int] = {}
    header_seen = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        cells = raw.split("\t")
        if not header_seen:
            header_seen = True
            if tuple(cells) != COLUMNS:
                errors.append(f"{file}:{number}: header must be {'<TAB>'.join(COLUMNS)}")
            continue
        if len(cells) != len(COLUMNS):
            errors.append(f"{file}:{number}: expected 3 tab-separated columns, got {len(cells)}")
            continue
        utterance, intent, split = (c.strip() for c in cells)
        if not utterance:
            errors.append(f"{file}:{number}: text: empty")
        if intent not in labels:
            errors.append(f"{file}:{number}: intent: {intent!r}, expected one of {sorted(labels)}")
        if split not in SPLITS:
            errors.append(f"{file}:{number}: split: {split!r}, expected one of {list(SPLITS)}")
        if utterance in seen:
            errors.append(f"{file}:{number}: text: {utterance!r} repeats line {seen[utterance]}")
        seen[utterance] = number
        out.append(Utterance(utterance, intent, split, number))
    if not header_seen:
        errors.append(f"{file}: no header line {'<TAB>'.join(COLUMNS)}")
    if errors:
        raise CorpusError("\n".join(errors))
    return out


def read_corpus_file(path: Path, labels: Collection[str]) -> list[Utterance]:
    """A corpus file outside the package (``voicebot intent eval --corpus``)."""
    return parse_corpus(path.read_text(encoding="utf-8"), str(path), labels)
