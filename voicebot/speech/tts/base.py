"""The ``Synthesizer`` interface: text in, 8 kHz engine PCM out, rendered once and cached.

The base class does the shared work around each engine's ``_synthesize_impl``: text checks,
the disk cache (a hit never loads the engine), conversion to the engine's audio format, and
the rule that some prompts (the disclosure) are played only from a pre-rendered file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from voicebot.audio import SAMPLE_RATE, Pcm
from voicebot.speech.resample import resample, to_int16
from voicebot.speech.tts.cache import TtsCache


class TtsError(Exception):
    """Speech could not be synthesized."""


class EngineUnavailable(TtsError):
    """The engine's package is not installed (the message says what to install)."""


class NotPreRendered(TtsError):
    """A prompt that must be pre-rendered is missing from the cache."""


@dataclass(frozen=True)
class RawAudio:
    """An engine's output before conversion: mono samples (int16 or float) at its own rate."""

    samples: npt.NDArray[np.generic]
    sample_rate: int

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if np.asarray(self.samples).ndim != 1:
            raise ValueError("RawAudio holds mono samples (a 1-D array)")


class Synthesizer(ABC):
    """One TTS engine with a default voice.

    Subclasses set :attr:`engine` and implement :meth:`_synthesize_impl`; callers use
    :meth:`render` (cached) or :meth:`cached` (never synthesizes).
    """

    engine: ClassVar[str]

    def __init__(self, voice: str, *, cache: TtsCache | None = None) -> None:
        if not voice:
            raise ValueError(f"{type(self).__name__} needs a voice")
        self.voice = voice
        self.cache = cache if cache is not None else TtsCache()

    def cached(self, text: str, voice: str | None = None) -> Pcm | None:
        """The pre-rendered audio for ``text``, or None; never loads the engine."""
        return self.cache.get(self.engine, voice or self.voice, _checked(text))

    async def render(
        self, text: str, voice: str | None = None, *, live: bool = True, keep: bool = True
    ) -> Pcm:
        """Speech for ``text`` as 8 kHz int16 PCM, from the cache or synthesized and stored.

        Args:
            text: what to say (already with variables filled in).
            voice: an engine-specific voice; default: the synthesizer's voice.
            live: if False, only a cached rendering is acceptable (the disclosure).
            keep: if False, the text is personal ("Hi Alice, ..."): synthesized in memory,
                never looked up in nor written to the disk cache.

        Raises:
            NotPreRendered: ``live`` is False and the text was never rendered.
            EngineUnavailable: the engine's package is missing.
            TtsError: the engine failed.
        """
        text = _checked(text)
        chosen = voice or self.voice
        hit = self.cache.get(self.engine, chosen, text) if keep else None
        if hit is not None:
            return hit
        if not live:
            raise NotPreRendered(
                f"{self.engine}/{chosen} has no pre-rendered audio for {text[:60]!r}; "
                "run `voicebot prompts render FLOW` before calling"
            )
        raw = await self._synthesize_impl(text, chosen)
        pcm = resample(to_int16(raw.samples), raw.sample_rate, SAMPLE_RATE)
        if len(pcm) == 0:
            raise TtsError(f"{self.engine}/{chosen} produced no audio for {text[:60]!r}")
        if keep:
            self.cache.put(self.engine, chosen, text, pcm)
        return pcm

    @abstractmethod
    async def _synthesize_impl(self, text: str, voice: str) -> RawAudio:
        """Synthesize ``text`` with ``voice`` at the engine's native rate.

        Implementations load their model lazily (once per process) and run CPU-bound work in
        a thread, so the event loop keeps serving other calls.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(voice={self.voice!r})"


def _checked(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise ValueError("nothing to say: the text is empty")
    return stripped
