"""The disclosure: said first on every path, while recording, and saying what it must.

``disclosure-first`` and ``disclosure-recorded`` come from the path search
(:mod:`voicebot.flow.lint.explore`): every entry, every caller input. ``disclosure-text``
reads the disclosure prompt itself: the flow's company (``{company}`` or its name, literally),
that the call is recorded, and how to opt out, each as a whole word (a Chinese keyword as its
characters) outside ``{placeholders}`` (a contact column may be empty) and not negated
("not recorded", "不会录音"). A locale without a known keyword set is an error unless the flow
gives its words (``disclosure_words``). ``set`` may not change what the disclosure says.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from voicebot.flow.lint.context import LintContext
from voicebot.flow.lint.finding import Finding, Severity
from voicebot.flow.model import OPT_OUT_DIGIT, VARIABLE_RE, Flow

RULE = "disclosure-first"
TEXT_RULE = "disclosure-text"
RECORDED_RULE = "disclosure-recorded"


@dataclass(frozen=True)
class KeywordSet:
    """How a language says "this call is recorded" and names the opt-out digit."""

    recording: tuple[str, ...]
    opt_out: tuple[str, ...]
    negators: tuple[str, ...]
    words: bool
    """True: keywords match whole words (spaces between words); False: as characters."""


KEYWORDS: dict[str, KeywordSet] = {
    "en": KeywordSet(
        recording=("recorded", "recording", "record"),
        opt_out=(OPT_OUT_DIGIT, "nine"),
        negators=("not", "never", "no", "won't", "isn't", "n't", "without"),
        words=True,
    ),
    "zh-Hans": KeywordSet(
        recording=("录音", "录制"),
        opt_out=(OPT_OUT_DIGIT, "九"),
        negators=("不", "没", "未", "无", "非", "勿"),
        words=False,
    ),
    "zh-Hant": KeywordSet(
        recording=("錄音", "錄製"),
        opt_out=(OPT_OUT_DIGIT, "九"),
        negators=("不", "沒", "未", "無", "非", "勿"),
        words=False,
    ),
}
"""Keyword sets by language (Chinese by script: Simplified for zh-CN/zh-SG, Traditional for
zh-TW/zh-HK/zh-MO)."""

TRADITIONAL_REGIONS = frozenset({"TW", "HK", "MO"})
NEGATION_REACH = 3
"""Words (English) or characters (Chinese) before a keyword where a negator cancels it."""


def keyword_key(locale: str) -> str | None:
    """The :data:`KEYWORDS` key of a locale (``zh-TW`` -> ``zh-Hant``), or None if unknown."""
    parts = locale.split("-")
    language = parts[0]
    if language == "zh":
        traditional = "Hant" in parts or any(p in TRADITIONAL_REGIONS for p in parts[1:])
        return "zh-Hant" if traditional else "zh-Hans"
    return language if language in KEYWORDS else None


def keywords_for(flow: Flow) -> KeywordSet | None:
    """The flow's own ``disclosure_words`` when given, else its locale's set."""
    key = keyword_key(flow.locale)
    known = KEYWORDS.get(key) if key is not None else None
    own = flow.disclosure_words
    if own is None:
        return known
    base = known or KeywordSet((), (OPT_OUT_DIGIT,), (), words=True)
    return KeywordSet(
        recording=tuple(own.recording) or base.recording,
        opt_out=(OPT_OUT_DIGIT, *own.opt_out) if own.opt_out else base.opt_out,
        negators=tuple(own.negators) or base.negators,
        words=base.words if known is not None else all(w.isascii() for w in own.recording),
    )


def _spoken(text: str) -> str:
    """The text a callee surely hears: ``{placeholders}`` out (a column may be empty)."""
    return VARIABLE_RE.sub(" ", text).lower()


def _occurrences(text: str, word: str, words: bool) -> Iterator[int]:
    w = re.escape(word.lower())
    if word.isdigit():
        pattern = rf"(?<![0-9]){w}(?![0-9])"
    elif words and word.isascii():
        pattern = rf"(?<![a-z0-9']){w}(?![a-z0-9'])"
    else:
        pattern = w
    for m in re.finditer(pattern, text):
        yield m.start()


def _negated(text: str, at: int, keywords: KeywordSet) -> bool:
    before = text[:at]
    if keywords.words:
        recent = re.findall(r"[a-z0-9']+", before)[-NEGATION_REACH:]
        return any(w in keywords.negators or w.endswith("n't") for w in recent)
    clause = re.split(r"[，。,.;；!！?？]", before)[-1]
    return any(n in clause[-NEGATION_REACH:] for n in keywords.negators)


def says(text: str, candidates: Sequence[str], keywords: KeywordSet, *, negatable: bool) -> bool:
    """Whether ``text`` (placeholders removed) says one of ``candidates`` plainly."""
    spoken = _spoken(text)
    for word in candidates:
        for at in _occurrences(spoken, word, keywords.words):
            if not (negatable and _negated(spoken, at, keywords)):
                return True
    return False


def first(ctx: LintContext) -> Iterator[Finding]:
    """Nothing audible before the disclosure, on any path from any entry."""
    yield from ctx.violations(RULE)


def recorded(ctx: LintContext) -> Iterator[Finding]:
    """The disclosure is never said while the recording is paused."""
    yield from ctx.violations(RECORDED_RULE)


def text(ctx: LintContext) -> Iterator[Finding]:
    """The disclosure names the company, the recording and the opt-out; ``set`` leaves it be."""
    flow = ctx.flow
    catalog = ctx.loaded.prompts
    protected = {"company"}
    if catalog is not None and flow.disclosure in catalog:
        protected |= catalog.variables(flow.disclosure)
    for name, state in flow.states.items():
        for i, action in enumerate(state.do):
            for key in sorted(set(action.set or ()) & protected):
                yield ctx.finding(
                    TEXT_RULE,
                    Severity.ERROR,
                    ("states", name, "do", i, "set", key),
                    f"`set` may not assign {key!r}: the disclosure depends on it "
                    "(built in or used by the disclosure text)",
                )
    if catalog is None or flow.disclosure not in catalog:
        return  # prompt-missing reports it
    said = catalog.texts[flow.disclosure]
    keywords = keywords_for(flow)
    if keywords is None or not keywords.recording:
        yield ctx.prompt_finding(
            TEXT_RULE,
            Severity.ERROR,
            flow.disclosure,
            f"no disclosure keywords known for locale {flow.locale!r} (known: "
            f"{', '.join(sorted(KEYWORDS))} and zh-TW/zh-HK as Traditional); give them in "
            "the flow's `disclosure_words: {recording: [...], opt_out: [...]}`",
        )
        return
    missing = []
    if "{company}" not in said and flow.company.lower() not in _spoken(said):
        missing.append(f"the company ({{company}} or {flow.company!r}, literally)")
    if not says(said, keywords.recording, keywords, negatable=True):
        missing.append(
            "that the call is recorded (one of: "
            f"{', '.join(keywords.recording)}, as a word, not negated)"
        )
    if not says(said, keywords.opt_out, keywords, negatable=False):
        missing.append(f"how to opt out (press {OPT_OUT_DIGIT}, as a number of its own)")
    if missing:
        yield ctx.prompt_finding(
            TEXT_RULE,
            Severity.ERROR,
            flow.disclosure,
            f"disclosure {flow.disclosure!r} does not say {'; nor '.join(missing)} "
            "(text in {placeholders} does not count)",
        )
