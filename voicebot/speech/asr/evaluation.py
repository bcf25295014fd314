"""Scoring recognizers on a labelled audio corpus: word error rate, intents, time per utterance.

A corpus is a directory with ``manifest.jsonl`` (one clip per line: ``id``, ``locale``,
``intent``, ``text``, ``audio`` relative to the directory, and optionally ``voice``,
``condition``, ``split`` and ``text_split``) and 8 kHz mono 16-bit WAV files;
``benchmarks/asr_corpus.py`` writes one. ``split`` is ``heldout`` when anything about the clip
(voice, line, words) was never tuned on; ``text_split`` says whether the words alone were (the
intent corpus's part), so held-out words are reported apart from held-out voices and lines.
Each clip is recognized whole, its transcript read by the intent rules and classifier, and
compared with the labels. Chinese is scored by characters (CER), other locales by words.

A *chain* ``a>b`` asks ``b`` unless ``a``'s transcript matches a lexicon phrase near-exactly
with more than a bare yes/no (:mod:`voicebot.speech.asr.chain`): the cheap first pass
answers what it hears clearly, the accurate second pass the unsure rest.
"""

from __future__ import annotations

import json
import re
import time
import wave
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.audio import SAMPLE_RATE, Pcm
from voicebot.speech.asr.base import Recognizer
from voicebot.speech.asr.chain import chain_transcribe
from voicebot.speech.intent import recognize

NONE = "none"
"""The intent label of a clip (or transcript) that means nothing to the flow."""
_REQUIRED = ("id", "locale", "intent", "text", "audio")
_PUNCT = re.compile(r"[^\w\s']|_", re.UNICODE)


class CorpusError(ValueError):
    """The corpus is malformed; the message names the file, line and field."""


@dataclass(frozen=True)
class Clip:
    """One labelled recording."""

    id: str
    locale: str
    intent: str
    text: str
    audio: Path
    voice: str = ""
    condition: str = ""
    split: str = "dev"
    text_split: str = ""
    """``dev`` or ``heldout`` when the words come from the intent corpus, else empty."""


@dataclass(frozen=True)
class Heard:
    """What the recognizer (or chain) made of one clip."""

    clip: Clip
    transcript: str
    intent: str
    seconds: float
    engines: tuple[str, ...]
    """The engines that were asked, in order (two when a chain fell through)."""


def load_manifest(directory: Path) -> list[Clip]:
    """The clips of a corpus directory.

    Raises:
        CorpusError: no manifest, bad JSON, a missing field or audio file.
    """
    manifest = directory / "manifest.jsonl"
    if not manifest.is_file():
        raise CorpusError(f"{manifest}: not found (write one with benchmarks/asr_corpus.py)")
    clips: list[Clip] = []
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{manifest}:{number}: not JSON: {exc.msg}") from exc
        if not isinstance(record, dict):
            raise CorpusError(f"{manifest}:{number}: expected a JSON object")
        for name in _REQUIRED:
            if not isinstance(record.get(name), str) or not record[name]:
                raise CorpusError(f"{manifest}:{number}: field {name!r}: expected a string")
        audio = directory / record["audio"]
        if not audio.is_file():
            raise CorpusError(f"{manifest}:{number}: field 'audio': no file {audio}")
        clips.append(
            Clip(
                record["id"],
                record["locale"],
                record["intent"],
                record["text"],
                audio,
                str(record.get("voice", "")),
                str(record.get("condition", "")),
                str(record.get("split", "dev")),
                str(record.get("text_split", "")),
            )
        )
    return clips


def read_wav(path: Path) -> Pcm:
    """An 8 kHz mono 16-bit WAV file's samples.

    Raises:
        CorpusError: another format (the message says which).
    """
    try:
        with wave.open(str(path), "rb") as wav:
            shape = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
            data = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise CorpusError(f"{path}: not a WAV file: {exc}") from exc
    if shape != (1, 2, SAMPLE_RATE):
        raise CorpusError(
            f"{path}: expected mono 16-bit {SAMPLE_RATE} Hz, got {shape[0]} channel(s), "
            f"{8 * shape[1]}-bit, {shape[2]} Hz"
        )
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def tokens(text: str, locale: str) -> list[str]:
    """Words (or, for Chinese, characters) as scored: case, punctuation, apostrophes dropped."""
    cleaned = _PUNCT.sub(" ", text.lower()).replace("'", "")
    if locale.split("-")[0].lower() == "zh":
        return [c for c in cleaned if not c.isspace()]
    return cleaned.split()


def intent_of(transcript: str, locale: str) -> str:
    """The intent label the lexicon gives a transcript (:data:`NONE` if none)."""
    return recognize(transcript, locale).intent or NONE if transcript.strip() else NONE


def hear(clip: Clip, chain: Sequence[Recognizer]) -> Heard:
    """Recognize one clip with the chain: the next engine only when no intent was heard."""
    pcm = read_wav(clip.audio)
    started = time.perf_counter()
    transcript, intent, asked = chain_transcribe(pcm, chain, clip.locale)
    seconds = time.perf_counter() - started
    return Heard(clip, transcript, intent or NONE, seconds, tuple(asked))


@dataclass
class Report:
    """Scores over a set of heard clips (one locale, one split, or all)."""

    clips: int = 0
    errors: int = 0
    reference_tokens: int = 0
    correct_intents: int = 0
    text_correct: int = 0
    """Clips whose own words the lexicon reads right: the ceiling a perfect recognizer meets."""
    seconds: list[float] = field(default_factory=list)
    second_pass: int = 0
    confusion: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, heard: Heard) -> None:
        import jiwer

        reference = tokens(heard.clip.text, heard.clip.locale)
        hypothesis = tokens(heard.transcript, heard.clip.locale)
        if reference:
            out = jiwer.process_words(" ".join(reference), " ".join(hypothesis) or "")
            self.errors += out.substitutions + out.deletions + out.insertions
            self.reference_tokens += len(reference)
        self.clips += 1
        self.correct_intents += heard.intent == heard.clip.intent
        self.text_correct += intent_of(heard.clip.text, heard.clip.locale) == heard.clip.intent
        self.seconds.append(heard.seconds)
        self.second_pass += len(heard.engines) > 1
        self.confusion[heard.clip.intent][heard.intent] += 1

    @property
    def error_rate(self) -> float:
        """WER (CER for Chinese): edits over reference tokens."""
        return self.errors / self.reference_tokens if self.reference_tokens else 0.0

    @property
    def intent_accuracy(self) -> float:
        return self.correct_intents / self.clips if self.clips else 0.0

    def recall(self, intent: str) -> float | None:
        """Of the clips labelled ``intent``, the fraction heard as it (None: no such clips)."""
        row = self.confusion.get(intent)
        total = sum(row.values()) if row else 0
        return row[intent] / total if row and total else None

    def as_dict(self) -> dict[str, Any]:
        seconds = np.array(self.seconds or [0.0])
        return {
            "clips": self.clips,
            "error_rate": round(self.error_rate, 4),
            "intent_accuracy": round(self.intent_accuracy, 4),
            "text_intent_accuracy": round(self.text_correct / self.clips, 4) if self.clips else 0.0,
            "recall": {
                intent: round(r, 4)
                for intent in sorted(self.confusion)
                if (r := self.recall(intent)) is not None
            },
            "seconds_mean": round(float(seconds.mean()), 4),
            "seconds_p95": round(float(np.percentile(seconds, 95)), 4),
            "second_pass": self.second_pass,
            "confusion": {k: dict(v) for k, v in sorted(self.confusion.items())},
        }


def evaluate(
    clips: Sequence[Clip],
    chain_for: Callable[[str], Sequence[Recognizer]],
    progress: Callable[[Heard], None] | None = None,
) -> tuple[dict[str, Report], list[Heard]]:
    """Hear every clip; reports keyed ``locale``, ``locale/split``, ``locale/voice:NAME``,
    ``locale/condition:NAME`` and, for words from the intent corpus, ``locale/text:PART``."""
    reports: dict[str, Report] = defaultdict(Report)
    heard_all: list[Heard] = []
    chains: dict[str, Sequence[Recognizer]] = {}
    for clip in clips:
        chain = chains.get(clip.locale)
        if chain is None:
            chain = chains[clip.locale] = chain_for(clip.locale)
        heard = hear(clip, chain)
        heard_all.append(heard)
        keys = [
            clip.locale,
            f"{clip.locale}/{clip.split}",
            f"{clip.locale}/voice:{clip.voice}",
            f"{clip.locale}/condition:{clip.condition}",
        ]
        if clip.text_split:
            keys.append(f"{clip.locale}/text:{clip.text_split}")
        for key in keys:
            reports[key].add(heard)
        if progress is not None:
            progress(heard)
    return dict(reports), heard_all
