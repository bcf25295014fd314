"""Where, inside the disclosure's audio, the identity, the recording notice and the opt-out start.

The disclosure is one prompt that holds several sentences ("this is <company>", "this call is
recorded", "press 9 to stop our calls"). The event log only knows when the whole prompt started
and how much of it was played, so the QA checks need the sentence boundaries in seconds.

Method (prefix rendering): the disclosure text is split at sentence ends (``. ! ? 。 ！ ？``); for
each sentence ``k`` the text *up to and including* it is rendered with the same synthesizer and
voice that speaks the call. Sentence ``k`` ends where the rendering of that prefix ends, and
starts where the prefix before it ends. Because each prefix is spoken by the engine as one
utterance, the pauses between sentences are the engine's own and the last prefix is exactly the
audio the caller hears. A prefix rendering may carry a little trailing silence, so a start can be
late by that silence: the checks err towards flagging, never towards passing. Renders go through
the TTS cache, so the cost is paid once per disclosure text and voice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from voicebot.audio import duration_ms
from voicebot.flow.loader import LoadedFlow
from voicebot.flow.model import OPT_OUT_DIGIT, VARIABLE_RE
from voicebot.speech.tts.base import Synthesizer

_SENTENCE_END = re.compile(r"[.!?。！？]+")

RECORDING_MARKERS = ("record", "录音", "錄音")
"""Words that make a sentence a recording notice (lower-cased match, any locale)."""


class Role(StrEnum):
    """What a sentence of the disclosure announces."""

    IDENTITY = "identity"
    """Who is calling: the sentence holding ``{company}``."""
    RECORDING = "recording"
    """That the call is recorded."""
    OPT_OUT = "opt_out"
    """How to stop the calls: the sentence naming the opt-out digit."""


@dataclass(frozen=True)
class Sentence:
    """One sentence of the disclosure, in seconds from the prompt's first sample."""

    text: str
    start_s: float
    end_s: float
    roles: frozenset[Role]


@dataclass(frozen=True)
class DisclosureTiming:
    """The disclosure's sentences with their times, and its whole length."""

    sentences: tuple[Sentence, ...]
    total_s: float

    def first(self, role: Role) -> Sentence | None:
        """The first sentence with ``role``, if the disclosure has one."""
        return next((s for s in self.sentences if role in s.roles), None)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """The sentences of ``text`` as ``(start, end)`` character spans (end punctuation kept,
    surrounding whitespace left out), in order."""
    spans: list[tuple[int, int]] = []
    start = 0
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if not ends or ends[-1] < len(text):
        ends.append(len(text))
    for end in ends:
        piece = text[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((start + lead, start + len(piece.rstrip())))
        start = end
    return spans


def roles_of(template_sentence: str, company: str) -> frozenset[Role]:
    """What a sentence of the disclosure *template* announces (see :class:`Role`)."""
    roles: set[Role] = set()
    if "{company}" in template_sentence or (company and company in template_sentence):
        roles.add(Role.IDENTITY)
    lowered = template_sentence.lower()
    if any(marker in lowered for marker in RECORDING_MARKERS):
        roles.add(Role.RECORDING)
    if OPT_OUT_DIGIT in VARIABLE_RE.sub("", template_sentence) or "９" in template_sentence:
        roles.add(Role.OPT_OUT)
    return frozenset(roles)


async def disclosure_timing(
    template: str,
    variables: Mapping[str, object],
    synthesizer: Synthesizer,
    voice: str | None = None,
) -> DisclosureTiming:
    """Time the sentences of the disclosure as ``synthesizer`` speaks them (prefix rendering).

    Args:
        template: the disclosure's approved text, with ``{variables}``.
        variables: values for them (at least ``company``).
        synthesizer: the engine that speaks the calls (its cache is used and filled).
        voice: the voice of the calls; default: the synthesizer's.
    """
    company = str(variables.get("company", ""))
    spans = split_sentences(template)
    if not spans:
        raise ValueError("the disclosure has no text")

    def fill(text: str) -> str:
        return VARIABLE_RE.sub(lambda m: str(variables[m.group(1)]), text)

    sentences: list[Sentence] = []
    start = 0.0
    for first, last in spans:
        # The prefix is exactly the start of what the call plays (the whole text, at the end).
        end = duration_ms(await synthesizer.render(fill(template[:last].strip()), voice)) / 1000
        end = max(end, start)
        tmpl = template[first:last]
        sentences.append(
            Sentence(fill(tmpl), round(start, 3), round(end, 3), roles_of(tmpl, company))
        )
        start = end
    return DisclosureTiming(tuple(sentences), sentences[-1].end_s)


async def flow_disclosure_timing(
    loaded: LoadedFlow, synthesizer: Synthesizer, voice: str | None = None
) -> DisclosureTiming:
    """:func:`disclosure_timing` of a loaded flow's disclosure (compute once per campaign).

    Raises:
        ValueError: the flow's locale has no prompts, or no text for its disclosure.
    """
    flow = loaded.flow
    if loaded.prompts is None or flow.disclosure not in loaded.prompts:
        raise ValueError(f"{loaded.path}: no text for the disclosure {flow.disclosure!r}")
    template = loaded.prompts.texts[flow.disclosure]
    return await disclosure_timing(template, {"company": flow.company}, synthesizer, voice)
