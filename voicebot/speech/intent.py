"""Text intents per locale: what a caller's words mean for the flow.

The intent names are part of the flow language (``intent.refuse`` in a flow's ``on``), so the
lint checks flows against :data:`INTENTS`. :func:`recognize` runs on every utterance a caller
makes, so the lexicons (``voicebot/speech/lexicons/<locale>.yaml``) are normalized once per
process and an utterance costs one fuzzy scan per phrase.

:func:`recognize` is the rules below, then the learned classifier for what no phrase covers
(:mod:`voicebot.speech.decision` says who decides when); :func:`recognize_rules` is the rules
alone.

How an utterance is read by the rules, in order:

1. **Normalize** (see :mod:`voicebot.speech.lexicon`): full-width forms, case, apostrophes,
   fillers (嗯, 啊, um, uh), units ASR confuses (在/再, 性/兴); punctuation splits clauses;
   common look-alikes ("对不起", "不错") are masked so they match nothing.
2. **Match** every phrase in every clause. Short phrases (under 4 Chinese characters, under
   6 English letters, or of one English word) must appear exactly, as whole words in English
   ("no" is not in "not"); a single Chinese character ("对", "好") and a phrase written
   ``=不用`` must be the whole clause, maybe repeated ("对对对", "不用不用").
   Longer phrases match fuzzily (rapidfuzz, per character) at the locale's threshold, which
   absorbs ASR slips ("knot interested", "dont call me agin", "不要再给我打点话"); most of
   the phrase must also be there, in English word by word ("is this about" is no "is this a
   robot"), in Chinese character by character ("不要再说了" is no "不要再打了").
   A fuzzy match never counts if it lacks a negator the phrase has ("有兴趣" is not "没有兴趣").
3. **Drop contained matches**: a match inside a longer phrase's match is that phrase's part
   ("对" in "不对", "interested" in "not interested", "可以" in "可以了解一下"); of two matches
   over the same words, the closer one stays ("not interested" over "no interest").
4. **Negation**: a match is negated when a negator ("不是", "没", "not", "never", ...) stands
   right before it, or with only the locale's ``negation_gap`` words between ("不太感兴趣",
   "not at all interested"), in the same clause; or when its fuzzy span holds a negator its
   phrase does not ("我现在不忙"). A negated ``refuse`` is ``interested`` ("不是没兴趣",
   "I'm not not interested"), a negated ``interested`` is ``refuse``, ``affirm`` and ``deny``
   swap, a negated ``callback_later`` or ``ask_human`` means nothing. A negator that belongs to
   an explicit match ("不用了" in "不用了我没兴趣") negates nothing; a bare ``deny`` used as a
   negator ("不是" in "不是没兴趣") is consumed by it. English "no" is not a negator: "no not
   interested" is a refusal. ``opt_out`` is never negated: a wrongly honoured opt-out costs
   one contact, a missed one breaks the law ("我没说别再打了" still opts out).
5. **Allowed**: only intents in ``allowed`` remain (the state's ``listen.intents`` plus the
   global handlers'); resolution above happened first, so "not interested" with only
   ``interested`` allowed gives no match rather than a wrong ``interested``.
6. **Precedence** among what remains, first wins (best score within one intent):
   ``opt_out`` > ``refuse`` > ``ask_human`` > ``callback_later`` > ``interested`` > ``deny`` >
   ``affirm``. Opting out outranks everything (compliance); a refusal must never be lost (it
   feeds the review queue and stops the pitch), so it outranks a request or an excuse; any
   explicit intent outranks a bare yes/no ("不是，我没兴趣" is a refusal, "no, I am interested"
   is interest); between bare answers the cautious one wins.

The score is the winning match's similarity (1.0 for an exact phrase), times 0.9 when it was
reached through negation, which is less certain than a plain phrase. The rules cost well under
a millisecond per utterance on an idle core (the lexicons grew with the labelled utterances):
exact phrases are found by substring tests, fuzzy ones after one C-level rapidfuzz pass over
the lexicon keeps only those that can reach the threshold; the classifier adds about as much.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from itertools import pairwise

from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from voicebot.speech.lexicon import (
    Lexicon,
    Phrase,
    find_units,
    load_lexicon,
    negator_spans,
    unit_count,
)

INTENTS: tuple[str, ...] = (
    "refuse",
    "opt_out",
    "interested",
    "callback_later",
    "ask_human",
    "affirm",
    "deny",
)
"""Every intent a flow may listen for."""

PRECEDENCE: tuple[str, ...] = (
    "opt_out",
    "refuse",
    "ask_human",
    "callback_later",
    "interested",
    "deny",
    "affirm",
)
"""When several intents match, the first of these wins (see the module docstring for why)."""

NEGATED: dict[str, str | None] = {
    "refuse": "interested",
    "interested": "refuse",
    "affirm": "deny",
    "deny": "affirm",
    "callback_later": None,
    "ask_human": None,
}
"""What an intent means when negated; ``opt_out`` is absent because it is never negated."""

NEGATION_FACTOR = 0.9
"""Confidence kept by a match reached through negation."""

_BARE = frozenset({"affirm", "deny"})


@dataclass(frozen=True)
class IntentMatch:
    """What an utterance means: an intent with a confidence, and the phrase that decided it."""

    intent: str | None
    """One of :data:`INTENTS`, or None when nothing matched well enough."""
    score: float
    """Confidence, 0..1 (0 when ``intent`` is None)."""
    phrase: str | None
    """The lexicon phrase that matched, as written in the lexicon (for explanations)."""
    negated: bool = False
    """True when the phrase was negated to reach ``intent`` ("不是没兴趣" -> interested)."""
    source: str = "lexicon"
    """``lexicon`` (a phrase decided) or ``model`` (the learned classifier decided)."""


NO_MATCH = IntentMatch(intent=None, score=0.0, phrase=None)


@dataclass(frozen=True)
class _Hit:
    phrase: Phrase
    start: int
    end: int
    score: float
    negated: bool = False

    def covers(self, other: _Hit) -> bool:
        """``other`` is a part of this longer phrase ("interested" of "not interested").

        A fuzzy reading over exactly the same words must also be as close to cover.
        """
        return (
            self.start <= other.start
            and other.end <= self.end
            and other.phrase.norm in self.phrase.norm
            and len(self.phrase.norm) > len(other.phrase.norm)
            and (self.end - self.start > other.end - other.start or self.score >= other.score)
        )

    def overlaps(self, other: _Hit) -> bool:
        return self.start < other.end and other.start < self.end


def lexicon_for(locale: str) -> Lexicon:
    """The compiled lexicon of a locale; ValueError naming the known locales if there is none."""
    return load_lexicon(locale, INTENTS)


def recognize(text: str, locale: str, allowed: Collection[str] | None = None) -> IntentMatch:
    """Recognize what a caller meant: the lexicon rules, then the learned classifier.

    Args:
        text: the utterance as ASR wrote it (any punctuation, width or fillers).
        locale: ``zh-CN``, ``en-US``, ... (one lexicon file each).
        allowed: intents the current state can use; None allows all of :data:`INTENTS`.

    Returns:
        What :func:`voicebot.speech.decision.decide` settles on (rules first; see there), or
        :data:`NO_MATCH` when nothing matched well enough.

    Raises:
        ValueError: unknown locale (the message names the known ones) or unknown intent in
            ``allowed``.
    """
    from voicebot.speech.decision import decide

    return decide(text, locale, allowed).match


def recognize_rules(
    text: str, locale: str, allowed: Collection[str] | None = None
) -> tuple[IntentMatch, bool]:
    """The lexicon rules alone (steps 1-6 of the module docstring).

    Returns:
        The intent with the highest precedence among those found, or :data:`NO_MATCH`; and
        whether any phrase was heard at all, even one negated into nothing or not allowed
        ("I'm not busy" hears "busy": the classifier must not read it as busy).

    Raises:
        ValueError: unknown locale or unknown intent in ``allowed``.
    """
    lexicon = lexicon_for(locale)
    if isinstance(allowed, str):
        raise ValueError(
            f"allowed must be a collection of intent names, not the string {allowed!r}"
        )
    if allowed is not None:
        unknown = sorted(set(allowed) - set(INTENTS))
        if unknown:
            raise ValueError(f"unknown intent(s) in allowed: {unknown}; known: {list(INTENTS)}")
    best: dict[str, IntentMatch] = {}
    heard = False
    for clause in lexicon.clauses(text):
        for hit in _resolve(lexicon, clause, _match(lexicon, clause)):
            heard = True
            intent = NEGATED.get(hit.phrase.intent) if hit.negated else hit.phrase.intent
            if intent is None or (allowed is not None and intent not in allowed):
                continue
            score = round(hit.score * (NEGATION_FACTOR if hit.negated else 1.0), 4)
            if intent not in best or score > best[intent].score:
                best[intent] = IntentMatch(intent, score, hit.phrase.text, hit.negated)
    for intent in PRECEDENCE:
        if intent in best:
            return best[intent], heard
    return NO_MATCH, heard


def _match(lexicon: Lexicon, clause: str) -> list[_Hit]:
    """Every phrase found in one clause, with its span and similarity."""
    hits: list[_Hit] = []
    for phrase in lexicon.exact_phrases:
        if phrase.whole or phrase.norm in clause:  # "in" first: most phrases are absent
            hits.extend(_exact(lexicon, clause, phrase))
    # One C-level pass keeps only the phrases that can reach the threshold; partial_ratio is
    # an upper bound of the score _fuzzy gives.
    candidates = process.extract(
        clause,
        lexicon.fuzzy_norms,
        scorer=fuzz.partial_ratio,
        score_cutoff=lexicon.threshold * 100,
        limit=None,
    )
    for _, _, index in candidates:
        hit = _fuzzy(lexicon, clause, lexicon.fuzzy_phrases[index])
        if hit is not None:
            hits.append(hit)
    return hits


def _exact(lexicon: Lexicon, clause: str, phrase: Phrase) -> list[_Hit]:
    if phrase.whole:
        sep = " " if lexicon.units == "words" else ""
        times = unit_count(clause, lexicon.units) // phrase.size
        repeated = times > 0 and clause == sep.join([phrase.norm] * times)
        return [_Hit(phrase, 0, len(clause), 1.0)] if repeated else []
    return [_Hit(phrase, s, e, 1.0) for s, e in find_units(clause, phrase.norm, lexicon.units)]


def _fuzzy(lexicon: Lexicon, clause: str, phrase: Phrase) -> _Hit | None:
    cutoff = lexicon.threshold * 100
    if len(clause) <= len(phrase.norm):
        score, start, end = fuzz.ratio(phrase.norm, clause), 0, len(clause)
    else:
        found = fuzz.partial_ratio_alignment(phrase.norm, clause, score_cutoff=cutoff)
        if found is None:
            return None
        score, start, end = _best_span(
            lexicon, clause, phrase.norm, found.dest_start, found.dest_end
        )
    if score < cutoff or not _heard(lexicon, phrase.norm, clause[start:end]):
        return None
    inside = sum(1 for s, e in negator_spans(lexicon, clause[start:end]))
    if inside < phrase.negations and not _has_slipped_negator(lexicon, clause[start:end]):
        return None  # "有兴趣" must not pass for "没有兴趣"
    return _Hit(phrase, start, end, score / 100, negated=inside > phrase.negations)


def _best_span(
    lexicon: Lexicon, clause: str, norm: str, start: int, end: int
) -> tuple[float, int, int]:
    """Snap an alignment to unit boundaries and try neighbours; best ratio, longer on ties.

    The alignment may stop short of a negator ("我现在" in "我现在不忙"); trying the spans
    around it lets the negator in when that is the better reading.
    """
    starts, ends = _boundaries(lexicon, clause)
    s0 = max(i for i, b in enumerate(starts) if b <= start)
    e0 = min(i for i, b in enumerate(ends) if b >= end)
    best = (-1.0, start, end)
    for si in range(max(0, s0 - 2), min(len(starts), s0 + 3)):
        for ei in range(max(0, e0 - 2), min(len(ends), e0 + 3)):
            s, e = starts[si], ends[ei]
            if e <= s:
                continue
            score = fuzz.ratio(norm, clause[s:e])
            if score > best[0] or (score == best[0] and e - s > best[2] - best[1]):
                best = (score, s, e)
    return best


def _boundaries(lexicon: Lexicon, clause: str) -> tuple[list[int], list[int]]:
    if lexicon.units == "chars":
        return list(range(len(clause))), list(range(1, len(clause) + 1))
    starts, ends, pos = [], [], 0
    for word in clause.split(" "):
        starts.append(pos)
        ends.append(pos + len(word))
        pos += len(word) + 1
    return starts, ends


WORD_SLIP = 70
"""How close (rapidfuzz ratio) a heard English word must be to a phrase word to count for it."""

MISSED_LETTERS = 0.25
"""Share of an English phrase's letters, in words not heard at all, a fuzzy match may miss."""

MISSED_CHARS = 0.2
"""Share of a Chinese phrase's characters a fuzzy match may miss (below, not equal)."""


def _heard(lexicon: Lexicon, norm: str, span: str) -> bool:
    """Whether the span holds most of the phrase itself, not just something that looks like it.

    Letter similarity alone lets the word that carries the meaning differ: "is this about"
    is close to "is this a robot", "不要再说了" to "不要再打了". In English each phrase word
    must be heard, maybe slipped or split ("agin", "any more"), but for words totalling a
    quarter of its letters; in Chinese, where ASR slips are homophones (mapped in the
    lexicon's ``equivalents``), fewer than a fifth of its characters may be missing or
    replaced: "不要再给我打点话" passes for "不要再给我打电话", "不要再说了" does not pass for
    "不要再打了".
    """
    if lexicon.units == "chars":
        missing = len(norm) - LCSseq.similarity(norm, span)
        return missing < MISSED_CHARS * len(norm)
    said = span.split()
    heard = said + [a + b for a, b in pairwise(said)]  # "any more"
    words = norm.split()
    missed = sum(
        len(word) for word in words if not any(fuzz.ratio(word, h) >= WORD_SLIP for h in heard)
    )
    return missed <= MISSED_LETTERS * sum(len(word) for word in words)


def _has_slipped_negator(lexicon: Lexicon, span: str) -> bool:
    """An English word that ASR bent out of a negator ("knot" for "not", "dont" for "don't")."""
    if lexicon.units != "words":
        return False
    return any(
        fuzz.ratio(word, negator) >= 85
        for word in span.split()
        for negator in lexicon.negators
        if len(negator) >= 3
    )


def _resolve(lexicon: Lexicon, clause: str, hits: list[_Hit]) -> list[_Hit]:
    """Drop contained matches, then apply negators that stand before a match."""
    hits = [h for h in hits if not any(o.covers(h) for o in hits)]
    # Two readings of the same words: keep the closer one ("no interest" loses to
    # "not interested"); equally close readings both stay and precedence decides.
    hits = [h for h in hits if not any(o.overlaps(h) and o.score > h.score for o in hits)]
    explicit = [h for h in hits if h.phrase.intent not in _BARE]
    cues = [
        (s, e)
        for s, e in negator_spans(lexicon, clause)
        if not any(h.start < e and s < h.end for h in explicit)
    ]
    consumed: list[tuple[int, int]] = []
    out: list[_Hit] = []
    for hit in hits:
        if hit.phrase.intent == "opt_out":
            out.append(replace(hit, negated=False))  # never negated: see the module docstring
            continue
        cue = _negating_cue(lexicon, clause, hit, cues)
        if cue is not None:
            consumed.append(cue)
            hit = replace(hit, negated=not hit.negated)
        out.append(hit)
    return [
        h
        for h in out
        if not (h.phrase.intent in _BARE and any(h.start < e and s < h.end for s, e in consumed))
    ]


def _negating_cue(
    lexicon: Lexicon, clause: str, hit: _Hit, cues: list[tuple[int, int]]
) -> tuple[int, int] | None:
    """The negator right before ``hit`` (only gap words between), if any."""
    before = [cue for cue in cues if cue[1] <= hit.start]
    if not before:
        return None
    cue = before[-1]
    return cue if _only_gap_words(lexicon, clause[cue[1] : hit.start]) else None


def _only_gap_words(lexicon: Lexicon, gap: str) -> bool:
    if lexicon.units == "words":
        return all(word in lexicon.negation_gap for word in gap.split())
    rest = gap
    while rest:
        for word in lexicon.negation_gap:  # longest first
            if rest.startswith(word):
                rest = rest[len(word) :]
                break
        else:
            return False
    return True
