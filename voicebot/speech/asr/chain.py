"""A chain of recognizers: a fast first pass, an accurate one only when the first is unsure.

"Sure" means the first engine's words match a phrase of the locale's intent lexicon
near-exactly (a match score of at least :data:`SURE`) and the intent is more than a bare yes
or no: a caller who said "not interested" in the voice pocketsphinx was tuned on is answered at
pocketsphinx's cost. Anything less is heard again by Whisper: no intent at all, a fuzzy match,
or an intent only the learned classifier reads. A garbled rendering loosely suggests intents
that were never said: pocketsphinx heard a refusal as "oh i read it did", which the classifier
reads as ``interested``, and a first pass that settled on that would pitch to a caller who
refused. Bare answers are heard again too: "please don't call me again" in an espeak-ng voice
came out "yeah totally again", and a wrong "yes" must not hide an opt-out. Measured with
``voicebot asr eval --engine pocketsphinx>whisper`` (README, "Speech").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voicebot.audio import Pcm
from voicebot.speech.asr.base import Recognizer, RecognizerSession, Transcript
from voicebot.speech.intent import IntentMatch, recognize

CONFIRM: frozenset[str] = frozenset({"affirm", "deny"})
"""Intents a first pass may not decide alone: short bare answers that noise and garbled
speech produce ("yeah", "no")."""

SURE = 0.9
"""The lexicon match score from which a first pass's words end the chain: an exact phrase
(1.0), a slip of a letter or two ("knot interested", 0.97), an exact phrase negated (0.9)."""


def _reading(text: str, locale: str) -> IntentMatch | None:
    """What the intent rules read in ``text`` (None: no words at all)."""
    return recognize(text, locale) if text.strip() else None


def _settles(match: IntentMatch | None) -> bool:
    """Whether a first pass's reading may end the chain (see the module docstring)."""
    return (
        match is not None
        and match.intent is not None
        and match.intent not in CONFIRM
        and match.source == "lexicon"
        and match.score >= SURE
    )


def sure(text: str, locale: str) -> bool:
    """Whether a first pass's ``text`` may end the chain (see the module docstring)."""
    return _settles(_reading(text, locale))


def chain_transcribe(
    pcm: Pcm, chain: Sequence[Recognizer], locale: str, phrases: Sequence[str] | None = None
) -> tuple[str, str | None, list[str]]:
    """One utterance through the chain; returns (words, intent, engines asked in order).

    The next engine hears the utterance unless the words so far are :func:`sure`; the last
    engine's words stand, whatever they mean.
    """
    text, match, asked = "", None, []
    for recognizer in chain:
        asked.append(recognizer.engine)
        text = recognizer.transcribe(pcm, phrases)
        match = _reading(text, locale)
        if _settles(match):
            break
    return text, match.intent if match is not None else None, asked


class ChainSession(RecognizerSession):
    """The first engine's session cuts the stream; its unsure finals are heard again."""

    def __init__(self, chain: ChainRecognizer, phrases: list[str] | None) -> None:
        super().__init__()
        self._chain = chain
        self._phrases = phrases
        self._first = chain.engines[0].session(phrases)
        self._audio: list[Pcm] = []

    def _feed_impl(self, samples: Pcm) -> list[Transcript]:
        self._audio.append(samples)
        return self._second_pass(self._first.feed(samples))

    def _finish_impl(self) -> list[Transcript]:
        return self._second_pass(self._first.finish())

    def _second_pass(self, results: list[Transcript]) -> list[Transcript]:
        finals = [r for r in results if r.final]
        if not finals:
            return results
        audio = np.concatenate(self._audio) if self._audio else np.zeros(0, dtype=np.int16)
        self._audio = []
        out = [r for r in results if not r.final]
        for final in finals:
            if sure(final.text, self._chain.locale) or len(audio) == 0:
                out.append(final)
                continue
            text, _, _ = chain_transcribe(
                audio, self._chain.engines[1:], self._chain.locale, self._phrases
            )
            out.append(Transcript(text or final.text, final=True))
        return out


class ChainRecognizer(Recognizer):
    """Recognizers tried in order, the next only when the words so far are not :func:`sure`
    (no near-exact lexicon phrase, or a bare yes/no)."""

    engine = "chain"

    def __init__(self, engines: Sequence[Recognizer]) -> None:
        if len(engines) < 2:
            raise ValueError("a chain needs at least two recognizers")
        locales = {e.locale for e in engines}
        if len(locales) != 1:
            raise ValueError(f"a chain hears one locale, got {sorted(locales)}")
        super().__init__(engines[0].locale)
        self.engines = list(engines)

    def transcribe(self, pcm: Pcm, phrases: Sequence[str] | None = None) -> str:
        """A whole utterance, as :func:`chain_transcribe` hears it."""
        return chain_transcribe(pcm, self.engines, self.locale, phrases)[0]

    def _session_impl(self, phrases: list[str] | None) -> RecognizerSession:
        return ChainSession(self, phrases)

    def __repr__(self) -> str:
        return " > ".join(repr(e) for e in self.engines)
