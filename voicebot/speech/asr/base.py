"""The ``Recognizer`` interface: 20 ms frames of a call in, partial and final text out.

A :class:`Recognizer` holds what is expensive (the acoustic model, loaded once per process);
a :class:`RecognizerSession` is one call's stream and must be cheap to create. The base
classes do the shared work: frame checks, phrase-list cleanup, running a session from an
async frame source without blocking the event loop, and whole-utterance transcription.
Finals feed the intent recognizer (:mod:`voicebot.speech.intent`) as plain text.

An engine implements :meth:`Recognizer._session_impl` (a continuous stream) and may override
two optional hooks: :meth:`Recognizer._utterance_impl` (one utterance already cut by the
call's voice activity detector: skip the engine's own endpointer) and
:meth:`Recognizer.prepare` (load per-utterance state before the first call). Calls hear
through :meth:`Recognizer.open_utterance` or, across cores, a
:class:`~voicebot.speech.asr.pool.RecognizerPool`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import structlog

from voicebot.audio import Pcm, frames, silence

if TYPE_CHECKING:
    from voicebot.speech.asr.stream import UtteranceStream

log = structlog.get_logger(__name__)


class AsrError(Exception):
    """Speech could not be recognized (engine missing, model unusable)."""


class RecognizerUnavailable(AsrError):
    """No recognizer can serve a locale; the message says what to install or pull."""


@dataclass(frozen=True)
class Transcript:
    """What was heard so far (``final`` False) or in a finished utterance (``final`` True)."""

    text: str
    final: bool
    confidence: float | None = None

    def __post_init__(self) -> None:
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, got {self.confidence}")


class RecognizerSession(ABC):
    """One stream of audio (one call leg); feed frames in order, then :meth:`finish`."""

    def __init__(self) -> None:
        self._closed = False

    def feed(self, frame: Pcm) -> list[Transcript]:
        """Feed 8 kHz int16 audio (normally one 20 ms frame); returns any new results.

        Raises:
            ValueError: the audio is not mono int16.
            RuntimeError: the session was finished.
        """
        if self._closed:
            raise RuntimeError("this recognizer session is finished")
        samples = np.asarray(frame)
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise ValueError(
                f"expected mono int16 samples at 8 kHz, got {samples.dtype} {samples.shape}"
            )
        if len(samples) == 0:
            return []
        return self._feed_impl(samples)

    def finish(self) -> list[Transcript]:
        """End of stream: flush what is pending as final results. Idempotent."""
        if self._closed:
            return []
        self._closed = True
        return self._finish_impl()

    @abstractmethod
    def _feed_impl(self, samples: Pcm) -> list[Transcript]:
        """Consume samples; return partials and finals that became known."""

    @abstractmethod
    def _finish_impl(self) -> list[Transcript]:
        """Flush the stream."""


def _cleaned(phrases: Sequence[str] | None) -> list[str] | None:
    """``phrases`` with their spaces collapsed, empty ones and repeats dropped (None stays)."""
    if phrases is None:
        return None
    cleaned = list(dict.fromkeys(" ".join(p.split()) for p in phrases if p.strip()))
    if not cleaned:
        raise ValueError("phrases were given but all are empty")
    return cleaned


class Recognizer(ABC):
    """A speech recognizer for one locale, with its model loaded once."""

    engine: ClassVar[str]

    def __init__(self, locale: str) -> None:
        self.locale = locale

    def session(self, phrases: Sequence[str] | None = None) -> RecognizerSession:
        """A new stream; ``phrases`` restricts (or hints) what may be heard, e.g. a grammar.

        Raises:
            ValueError: ``phrases`` was given but none is usable with this model.
        """
        return self._session_impl(_cleaned(phrases))

    def utterance(self, phrases: Sequence[str] | None = None) -> RecognizerSession:
        """A stream holding exactly one utterance, already cut by the call's voice activity
        detector: every final result comes out of :meth:`RecognizerSession.finish`, or
        earlier. Engines with their own endpointer override :meth:`_utterance_impl` to skip
        it (its window would delay the words); the default is an ordinary :meth:`session`.

        Raises:
            ValueError: as :meth:`session`.
        """
        return self._utterance_impl(_cleaned(phrases))

    def usable_phrases(
        self,
        phrases: Sequence[str],
        unknown_words: Callable[[str], Sequence[str]],
        none_usable: str,
        spoken: Callable[[str], str] = lambda phrase: phrase,
    ) -> list[str]:
        """The phrases a grammar of this model can hold, as ``spoken`` writes them (default:
        unchanged): those with no word ``unknown_words`` reports; each other one is logged and
        dropped.

        Raises:
            ValueError: ``none_usable`` and the phrases, when no phrase is left.
        """
        usable: list[str] = []
        for phrase in phrases:
            words = spoken(phrase)
            missing = list(unknown_words(words)) if words else [phrase]
            if missing:
                log.warning(
                    "asr_phrase_dropped", engine=self.engine, phrase=phrase, unknown=missing
                )
            else:
                usable.append(words)
        if not usable:
            raise ValueError(f"{none_usable}: {list(phrases)}")
        return usable

    def prepare(self, utterances: int) -> None:
        """Load now what ``utterances`` simultaneous utterances need (a recognizer worker
        calls it before its first call); the default has nothing to load."""
        return None

    def open_utterance(
        self, on_partial: Callable[[str], None] | None = None, phrases: Sequence[str] | None = None
    ) -> UtteranceStream:
        """Hear one utterance without blocking the event loop, decoded in a thread of this
        process (a :class:`~voicebot.speech.asr.pool.RecognizerPool` does it on other cores).

        Raises:
            ValueError: as :meth:`session`, for ``phrases``.
        """
        from voicebot.speech.asr.stream import ThreadedUtterance

        return ThreadedUtterance(self, on_partial, phrases)

    @abstractmethod
    def _session_impl(self, phrases: list[str] | None) -> RecognizerSession:
        """Create a stream (cheap: the model is already loaded)."""

    def _utterance_impl(self, phrases: list[str] | None) -> RecognizerSession:
        """Create a one-utterance stream; by default an ordinary session."""
        return self._session_impl(phrases)

    async def stream(
        self, audio: AsyncIterable[Pcm], phrases: Sequence[str] | None = None
    ) -> AsyncIterator[Transcript]:
        """Recognize an async stream of frames; decoding runs in a worker thread."""
        session = self.session(phrases)
        async for frame in audio:
            for result in await asyncio.to_thread(session.feed, frame):
                yield result
        for result in await asyncio.to_thread(session.finish):
            yield result

    def transcribe(self, pcm: Pcm, phrases: Sequence[str] | None = None) -> str:
        """Recognize a whole recording (blocking): the final results joined by spaces.

        Half a second of silence is added before and after, as a caller's line would have.
        """
        session = self.session(phrases)
        finals: list[str] = []
        padded = np.concatenate([silence(500), np.asarray(pcm, dtype=np.int16), silence(500)])
        for frame in frames(padded):
            finals += [r.text for r in session.feed(frame) if r.final and r.text]
        finals += [r.text for r in session.finish() if r.final and r.text]
        return " ".join(finals)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(locale={self.locale!r})"


__all__ = [
    "AsrError",
    "Recognizer",
    "RecognizerSession",
    "RecognizerUnavailable",
    "Transcript",
]
