"""Intent lexicons per locale: the phrases callers say, as data, and text normalized to match them.

A locale is a YAML file in ``voicebot/speech/lexicons/`` (``zh-CN.yaml``, ``en-US.yaml``, ...):
adding a language is adding a file, not code. Files are read through :mod:`voicebot.yamlsource`,
so a mistake in one is reported as ``file:line:col: field: message``. Each lexicon is loaded and
normalized once per process; recognizing an utterance then only normalizes the utterance.

Normalization is the same for phrases and for what a caller said, so both sides always agree:
NFKC (full-width letters and digits become ASCII), case folded, apostrophes dropped ("don't" is
"dont"), punctuation and symbols split the text into clauses, fillers (嗯, 啊, um, uh) dropped,
units ASR often confuses mapped to one of them ("在" and "再" both read "再").
``chars`` locales (Chinese) also drop spaces, since ASR engines put them between words or not at
all; ``words`` locales keep single spaces between words.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from voicebot.yamlsource import SourceError, SourceErrors, parse_yaml

Units = Literal["chars", "words"]

_APOSTROPHES = dict.fromkeys(map(ord, "'’‘`´ʼ"), None)
MASK = "\x00"
"""Stands in for each character of a neutral phrase: matches nothing, negates nothing."""


class ClassifierSettings(BaseModel):
    """How sure the learned classifier must be to decide (see :mod:`voicebot.speech.decision`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float = Field(default=0.5, ge=0.0, le=1.0)
    """Probability for an intent the rules did not find."""
    opt_out_min: float = Field(default=0.6, ge=0.0, le=1.0)
    """Probability for ``opt_out`` (which also needs an opt-out cue)."""


class LexiconFile(BaseModel):
    """The YAML form of one locale's lexicon (see ``lexicons/zh-CN.yaml`` for a commented one)."""

    model_config = ConfigDict(extra="forbid")

    locale: str = Field(pattern=r"^[a-z]{2,3}-[A-Z]{2}$")
    units: Units
    threshold: float = Field(ge=0.5, le=1.0)
    fillers: list[str] = Field(default_factory=list)
    negators: list[str] = Field(default_factory=list)
    negation_gap: list[str] = Field(default_factory=list)
    neutral: list[str] = Field(default_factory=list)
    equivalents: list[list[str]] = Field(default_factory=list)
    opt_out_cues: list[str] = Field(default_factory=list)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    intents: dict[str, list[str]]


@dataclass(frozen=True)
class Phrase:
    """One lexicon phrase, ready to match."""

    intent: str
    text: str
    """As written in the lexicon (reported back to explain a match)."""
    norm: str
    """Normalized like an utterance."""
    size: int
    """Length in units (characters or words)."""
    exact: bool
    """Too short to match fuzzily: must appear as whole units."""
    whole: bool
    """Must be the whole clause, maybe repeated ("对对对"): written ``=不用`` in the lexicon."""
    negations: int
    """How many negator words the phrase itself holds ("没兴趣" holds one)."""


@dataclass(frozen=True)
class Lexicon:
    """One locale's phrases and word lists, normalized once."""

    locale: str
    units: Units
    threshold: float
    fillers: tuple[str, ...]
    negators: tuple[str, ...] = ()
    negation_gap: tuple[str, ...] = ()
    """Longest first, like every word list here."""
    neutral: tuple[str, ...] = ()
    equivalents: Mapping[str, str] = field(default_factory=dict)
    """Unit -> the unit it stands for ("在" -> "再"): ASR confusions, mapped on both sides."""
    phrases: tuple[Phrase, ...] = ()
    classifier: ClassifierSettings = field(default_factory=ClassifierSettings)
    opt_out_cues: tuple[str, ...] = ()
    """Words an opt-out talks about (calling, the number, the list): the learned classifier's
    ``opt_out`` counts only when the utterance holds one (see :mod:`voicebot.speech.decision`)."""

    @functools.cached_property
    def exact_phrases(self) -> tuple[Phrase, ...]:
        """Phrases matched exactly, in lexicon order."""
        return tuple(p for p in self.phrases if p.exact)

    @functools.cached_property
    def fuzzy_phrases(self) -> tuple[Phrase, ...]:
        """Phrases matched fuzzily, in lexicon order."""
        return tuple(p for p in self.phrases if not p.exact)

    @functools.cached_property
    def fuzzy_norms(self) -> tuple[str, ...]:
        """Normalized text of :attr:`fuzzy_phrases`, for one C-level scan per clause."""
        return tuple(p.norm for p in self.fuzzy_phrases)

    def clauses(self, text: str) -> list[str]:
        """Normalize an utterance into clauses (punctuation splits; empty clauses dropped)."""
        out = []
        for raw in _split_clauses(_fold(text)):
            clause = self._clean(raw)
            if clause:
                out.append(self._mask_neutral(clause))
        return out

    def _clean(self, raw: str) -> str:
        same = self.equivalents
        if self.units == "words":
            return " ".join(same.get(w, w) for w in raw.split() if w not in self.fillers)
        joined = "".join(same.get(ch, ch) for ch in raw if not ch.isspace())
        for filler in self.fillers:  # longest first, see load
            joined = joined.replace(filler, "")
        return joined

    def _mask_neutral(self, clause: str) -> str:
        for phrase in self.neutral:
            for start, end in find_units(clause, phrase, self.units):
                clause = clause[:start] + MASK * (end - start) + clause[end:]
        return clause


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)


def _split_clauses(text: str) -> Iterator[str]:
    current: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Pd":  # hyphens and dashes join words, they do not end a clause
            current.append(" ")
        elif category[0] in "PS":
            yield "".join(current)
            current = []
        else:
            current.append(ch)
    yield "".join(current)


def find_units(clause: str, needle: str, units: Units) -> Iterator[tuple[int, int]]:
    """Every occurrence of ``needle`` in ``clause`` on unit boundaries, as (start, end) offsets.

    For ``words`` an occurrence must start and end at word boundaries ("no" is not in "not").
    """
    if not needle or needle not in clause:  # the common case, decided in C
        return
    if units == "chars":
        for m in re.finditer(re.escape(needle), clause):
            yield m.start(), m.end()
        return
    for m in re.finditer(rf"(?<![^ ]){re.escape(needle)}(?![^ ])", clause):
        yield m.start(), m.end()


def unit_count(text: str, units: Units) -> int:
    """Length of normalized text in units."""
    return len(text.split()) if units == "words" else len(text)


def lexicons_root() -> Traversable:
    """The folder of lexicon files shipped inside the package."""
    return resources.files("voicebot.speech").joinpath("lexicons")


def known_locales() -> tuple[str, ...]:
    """Locales that have a lexicon file, sorted."""
    return tuple(
        sorted(
            entry.name.removesuffix(".yaml")
            for entry in lexicons_root().iterdir()
            if entry.name.endswith(".yaml")
        )
    )


@functools.cache
def load_lexicon(locale: str, intents: tuple[str, ...]) -> Lexicon:
    """Load and normalize one locale's lexicon (cached for the life of the process).

    Args:
        locale: e.g. ``zh-CN``; names the file ``lexicons/<locale>.yaml``.
        intents: the vocabulary; the file must give phrases for each and for no other.

    Raises:
        ValueError: no lexicon for ``locale`` (the message names the known ones).
        SourceErrors: the lexicon file is malformed (with file, line and column).
    """
    known = known_locales()
    if locale not in known:
        raise ValueError(f"no intent lexicon for locale {locale!r}; known: {', '.join(known)}")
    name = f"{locale}.yaml"
    lexicon = parse_lexicon(
        lexicons_root().joinpath(name).read_text(encoding="utf-8"), name, intents
    )
    if lexicon.locale != locale:
        raise ValueError(f"{name}: locale: must be {locale!r}, as the file name says")
    return lexicon


def parse_lexicon(text: str, file: str, intents: tuple[str, ...]) -> Lexicon:
    """Parse and normalize a lexicon from YAML text.

    Raises:
        SourceErrors: malformed file, an intent missing or unknown, or a phrase that is empty
            once normalized; each error with file, line and column.
    """
    doc = parse_yaml(text, file)
    data = doc.validate(LexiconFile)
    unknown = sorted(set(data.intents) - set(intents))
    missing = [name for name in intents if not data.intents.get(name)]
    if unknown or missing:
        problems = [f"unknown intent(s) {unknown}"] if unknown else []
        problems += [f"no phrases for intent(s) {missing}"] if missing else []
        raise SourceErrors(
            [doc.error(("intents",), f"{'; '.join(problems)}; expected all of {list(intents)}")]
        )
    return _compile(data, intents, doc.error)


_ErrorAt = Callable[[tuple[str | int, ...], str], SourceError]


def _compile(data: LexiconFile, intents: tuple[str, ...], doc_error: _ErrorAt) -> Lexicon:
    units = data.units
    equivalents: dict[str, str] = {}
    errors: list[SourceError] = []
    for g, group in enumerate(data.equivalents):
        folded = [_fold(unit).strip() for unit in group]
        if len(folded) < 2 or any(unit_count(u, units) != 1 or " " in u for u in folded):
            one = "one character" if units == "chars" else "one word"
            errors.append(doc_error(("equivalents", g), f"a group lists 2+ units of {one} each"))
        equivalents.update((unit, folded[0]) for unit in folded[1:])
    # Fillers are only folded; every other word list is normalized like an utterance.
    fillers = tuple(sorted({_fold(f).strip() for f in data.fillers}, key=len, reverse=True))
    bare = Lexicon(data.locale, units, data.threshold, fillers, equivalents=equivalents)
    base = replace(
        bare,
        negators=_normalized(bare, data.negators),
        negation_gap=_normalized(bare, data.negation_gap),
        neutral=_normalized(bare, data.neutral),
        opt_out_cues=_normalized(bare, data.opt_out_cues),
        classifier=data.classifier,
    )
    phrases: list[Phrase] = []
    for intent in intents:
        for i, text in enumerate(data.intents[intent]):
            whole = text.startswith("=")
            clauses = base.clauses(text.removeprefix("="))  # masked like utterances
            if len(clauses) != 1 or not clauses[0].strip(MASK + " "):
                why = (
                    "holds punctuation"
                    if len(clauses) > 1
                    else "is empty once fillers are dropped"
                    if not clauses
                    else "is all neutral words"
                )
                errors.append(doc_error(("intents", intent, i), f"phrase {text!r} {why}"))
                continue
            norm = clauses[0]
            size = unit_count(norm, units)
            letters = len(norm.replace(" ", ""))
            # ASR writes dictionary words: an English slip swaps whole words ("knot" for "not"),
            # so a one-word phrase is heard or not ("interested" is no slip of "uninterested").
            exact = letters < 4 if units == "chars" else (letters < 6 or size == 1)
            # One character ("对", "好") is too ambiguous inside a sentence.
            whole = whole or (units == "chars" and size == 1)
            negations = sum(1 for _ in negator_spans(base, norm))
            phrases.append(
                Phrase(intent, text.removeprefix("="), norm, size, exact or whole, whole, negations)
            )
    if errors:
        raise SourceErrors(errors)
    return replace(base, phrases=tuple(phrases))


def _normalized(lexicon: Lexicon, words: list[str]) -> tuple[str, ...]:
    out = {c for w in words for c in lexicon.clauses(w)}
    return tuple(sorted(out, key=len, reverse=True))  # longest first: "不是" before "不"


def negator_spans(lexicon: Lexicon, clause: str) -> Iterator[tuple[int, int]]:
    """Non-overlapping negator words in a clause, left to right, longest word preferred."""
    taken: list[tuple[int, int]] = []
    for negator in lexicon.negators:
        for start, end in find_units(clause, negator, lexicon.units):
            if all(end <= s or start >= e for s, e in taken):
                taken.append((start, end))
    yield from sorted(taken)
