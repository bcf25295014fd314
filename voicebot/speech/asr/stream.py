"""One utterance on its way to text, as a call's ears see it: frames in while the caller
speaks, partial words out as they firm up, the final words soon after the end of speech.

Feeding never blocks the event loop: the decoding happens elsewhere (a thread of this process
in :class:`ThreadedUtterance`, another process in
:class:`~voicebot.speech.asr.pool.RecognizerPool`).
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from voicebot.audio import Pcm
from voicebot.speech.asr.base import AsrError, Transcript

if TYPE_CHECKING:
    from voicebot.speech.asr.base import Recognizer

PartialCallback = Callable[[str], None]


class UtteranceLost(AsrError):
    """The utterance's words could not be recognized (its recognizer died or hung)."""


class UtteranceStream(ABC):
    """One utterance: :meth:`feed` its frames in order, :meth:`end` it, await :meth:`text`."""

    @abstractmethod
    def feed(self, frame: Pcm) -> None:
        """Send the next frame (returns at once)."""

    @abstractmethod
    def end(self) -> None:
        """The caller stopped: flush and produce the final words."""

    @abstractmethod
    async def text(self) -> str:
        """The final words ("" for none).

        Raises:
            UtteranceLost: the words could not be recognized; the message says why.
        """

    @abstractmethod
    def cancel(self) -> None:
        """Drop the utterance (it was a key tone): nothing will be awaited."""


class UtteranceSource(Protocol):
    """What a call's ears hear words with: a :class:`Recognizer` or a recognizer pool."""

    def open_utterance(
        self, on_partial: PartialCallback | None = None, phrases: Sequence[str] | None = None
    ) -> UtteranceStream:
        """Start hearing one utterance; ``on_partial`` gets the words heard so far;
        ``phrases`` restrict what may be heard."""
        ...


class ThreadedUtterance(UtteranceStream):
    """An utterance decoded in this process, frame batches handed to a worker thread in order.

    The decoder runs in a thread so the event loop keeps carrying media, but it shares this
    process's interpreter: under load, prefer a recognizer pool.
    """

    def __init__(
        self,
        recognizer: Recognizer,
        on_partial: PartialCallback | None,
        phrases: Sequence[str] | None = None,
    ) -> None:
        self._session = recognizer.utterance(phrases)
        self._on_partial = on_partial
        self._frames: list[Pcm] = []
        self._wake = asyncio.Event()
        self._ended = False
        self._task = asyncio.get_running_loop().create_task(self._decode())

    def feed(self, frame: Pcm) -> None:
        self._frames.append(frame)
        self._wake.set()

    def end(self) -> None:
        self._ended = True
        self._wake.set()

    async def text(self) -> str:
        try:
            return await asyncio.shield(self._task)
        except AsrError:
            raise
        except Exception as exc:
            raise UtteranceLost(f"speech recognition failed: {type(exc).__name__}: {exc}") from exc

    def cancel(self) -> None:
        self._task.cancel()

    async def _decode(self) -> str:
        finals: list[str] = []
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                batch, self._frames = self._frames, []
                ended = self._ended
                for result in await asyncio.to_thread(self._feed_all, batch, ended):
                    if result.final:
                        finals.append(result.text)
                    elif self._on_partial is not None:
                        self._on_partial(result.text)
                if ended:
                    return " ".join(t for t in finals if t)
        finally:
            with contextlib.suppress(Exception):
                self._session.finish()

    def _feed_all(self, batch: list[Pcm], ended: bool) -> list[Transcript]:
        results: list[Transcript] = []
        for frame in batch:
            results += self._session.feed(frame)
        if ended:
            results += self._session.finish()
        return results
