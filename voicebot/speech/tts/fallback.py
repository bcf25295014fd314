"""Online speech with an offline safety net: edge-tts first, Piper or espeak-ng if it fails.

The reachability probe only proves that a TCP connection opens; the service may still refuse
or stall mid-call. A call must not go silent for that, so ``auto`` wraps edge-tts in a
:class:`FallbackSynthesizer`: on a failure it marks edge unreachable (new calls go offline
for a while) and renders this text with the offline engine.
"""

from __future__ import annotations

import structlog

from voicebot.audio import Pcm
from voicebot.speech.tts.base import NotPreRendered, RawAudio, Synthesizer, TtsError

log = structlog.get_logger(__name__)


class FallbackSynthesizer(Synthesizer):
    """Renders with ``primary``; on a :class:`TtsError`, with ``secondary``."""

    engine = "fallback"

    def __init__(self, primary: Synthesizer, secondary: Synthesizer) -> None:
        super().__init__(primary.voice, cache=primary.cache)
        self.primary = primary
        self.secondary = secondary

    def cached(self, text: str, voice: str | None = None) -> Pcm | None:
        """A rendering by either engine (the primary's first); never loads an engine."""
        hit = self.primary.cached(text, voice)
        return hit if hit is not None else self.secondary.cached(text)

    async def render(
        self, text: str, voice: str | None = None, *, live: bool = True, keep: bool = True
    ) -> Pcm:
        """The primary's rendering, else the secondary's (see :meth:`Synthesizer.render`)."""
        hit = self.cached(text, voice) if keep else None
        if hit is not None:
            return hit
        try:
            return await self.primary.render(text, voice, live=live, keep=keep)
        except NotPreRendered:
            raise
        except TtsError as exc:
            log.warning(
                "tts_fallback",
                failed=self.primary.engine,
                using=self.secondary.engine,
                error=str(exc),
            )
            if self.primary.engine == "edge":
                from voicebot.speech.tts.edge import mark_unreachable

                mark_unreachable()
            return await self.secondary.render(text, live=live, keep=keep)

    async def _synthesize_impl(self, text: str, voice: str) -> RawAudio:
        raise AssertionError("FallbackSynthesizer renders through its engines")  # pragma: no cover

    def __repr__(self) -> str:
        return f"FallbackSynthesizer({self.primary!r}, {self.secondary!r})"
