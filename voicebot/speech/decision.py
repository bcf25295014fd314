"""Rules and the learned classifier together: who decides what an utterance means, and why.

The lexicon rules (:func:`voicebot.speech.intent.recognize_rules`) are precise but know only
their phrases; the classifier (:mod:`voicebot.speech.classifier`) generalizes to paraphrases
and ASR slips but can be wrong with confidence. So, in order:

1. A rule ``opt_out`` stands (a missed opt-out breaks the law; the rules never negate one).
2. A classifier ``opt_out`` counts only if it is confident (the lexicon's
   ``classifier.opt_out_min``) **and** the utterance holds one of the lexicon's
   ``opt_out_cues`` (calling, the number, the list, 打, 电话, 号码, ...), and the rules found
   no request that contradicts one (``interested``, ``callback_later``, ``ask_human``: "try me
   again next week" is a callback): the rules keep the last word on what can be an opt-out.
3. Any other explicit rule intent stands (``refuse``, ``interested``, ...).
4. When the rules heard a phrase but resolved it to nothing ("I'm not busy", "不用转人工", or
   an intent the state does not allow), nothing it is: the classifier does not overrule that.
5. A confident (``classifier.min``) explicit classifier intent outranks a bare rule ``affirm``
   or ``deny``, as an explicit phrase does in the rules ("yeah go on then" is interest).
6. Then a bare rule intent; then a confident bare classifier intent; else no intent.

The classifier's labels are judged over every label (``none`` included) before ``allowed``
filters them, as the rules resolve before filtering: "not interested" with only
``interested`` allowed is no match, never a wrong ``interested``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from rapidfuzz import fuzz

from voicebot.speech.classifier import Prediction, shipped_model
from voicebot.speech.intent import (
    NO_MATCH,
    WORD_SLIP,
    IntentMatch,
    lexicon_for,
    recognize_rules,
)
from voicebot.speech.lexicon import Lexicon

_BARE = frozenset({"affirm", "deny"})
_CONTRADICT_OPT_OUT = frozenset({"interested", "callback_later", "ask_human"})


@dataclass(frozen=True)
class Decision:
    """An utterance's meaning with what led there (``voicebot intent TEXT --explain``)."""

    match: IntentMatch
    rules: IntentMatch
    """What the lexicon alone found."""
    heard: bool
    """The lexicon heard some phrase (maybe negated into nothing, or not allowed)."""
    model: Prediction | None
    """The classifier's reading, or None when no model is shipped for the locale."""
    cue: str | None
    """The opt-out cue word found in the utterance, if any."""
    reason: str
    """Which step of the module docstring decided."""


def decide(text: str, locale: str, allowed: Collection[str] | None = None) -> Decision:
    """Settle what ``text`` means (see the module docstring for the order).

    Raises:
        ValueError: unknown locale or unknown intent in ``allowed``.
    """
    rules, heard = recognize_rules(text, locale, allowed)
    lexicon = lexicon_for(locale)
    model = shipped_model(locale)
    prediction = model.predict(text, lexicon) if model is not None and text.strip() else None
    cue = opt_out_cue(lexicon, text)

    def ok(label: str) -> bool:
        return allowed is None or label in allowed

    def learned(prediction: Prediction) -> IntentMatch:
        return IntentMatch(prediction.label, round(prediction.probability, 4), None, source="model")

    def done(match: IntentMatch, reason: str) -> Decision:
        return Decision(match, rules, heard, prediction, cue, reason)

    if rules.intent == "opt_out":
        return done(rules, "a lexicon opt-out phrase")
    label, p = (prediction.label, prediction.probability) if prediction else ("none", 0.0)
    settings = lexicon.classifier
    contradicted = rules.intent in _CONTRADICT_OPT_OUT
    if label == "opt_out" and p >= settings.opt_out_min and cue and ok(label) and not contradicted:
        assert prediction is not None
        return done(learned(prediction), f"classifier opt_out, confirmed by the cue {cue!r}")
    if rules.intent is not None and rules.intent not in _BARE:
        return done(rules, "a lexicon phrase")
    if rules.intent is None and heard:
        return done(NO_MATCH, "the lexicon heard a phrase and resolved it to no allowed intent")
    confident = prediction is not None and p >= settings.min and ok(label)
    explicit = label not in _BARE and label not in ("none", "opt_out")
    if confident and explicit:
        assert prediction is not None
        return done(learned(prediction), "a confident classifier intent")
    if rules.intent is not None:
        return done(rules, "a lexicon yes/no")
    if confident and label in _BARE:
        assert prediction is not None
        return done(learned(prediction), "a confident classifier yes/no")
    return done(NO_MATCH, "nothing matched well enough")


def opt_out_cue(lexicon: Lexicon, text: str) -> str | None:
    """The first opt-out cue in ``text``: an English word maybe slipped ("collin" for
    "calling"), or a run of Chinese characters."""
    clauses = lexicon.clauses(text)
    for cue in lexicon.opt_out_cues:
        for clause in clauses:
            if lexicon.units == "chars":
                if cue in clause:
                    return cue
            elif any(fuzz.ratio(cue, word) >= WORD_SLIP for word in clause.split()):
                return cue
    return None
