"""Text to speech: edge-tts online, Piper (English) and espeak-ng offline, a disk cache.

Callers ask :func:`synthesizer_for` for a :class:`Synthesizer` and ``await render(text)``;
the audio is 8 kHz int16 PCM (:mod:`voicebot.audio`), cached on disk by engine+voice+text.
"""

from voicebot.speech.tts.base import (
    EngineUnavailable,
    NotPreRendered,
    RawAudio,
    Synthesizer,
    TtsError,
)
from voicebot.speech.tts.cache import TtsCache, default_cache_dir
from voicebot.speech.tts.select import (
    choose_engine,
    engine_setting,
    make_synthesizer,
    offline_engine_for,
    prerendered,
    synthesizer_for,
)

__all__ = [
    "EngineUnavailable",
    "NotPreRendered",
    "RawAudio",
    "Synthesizer",
    "TtsCache",
    "TtsError",
    "choose_engine",
    "default_cache_dir",
    "engine_setting",
    "make_synthesizer",
    "offline_engine_for",
    "prerendered",
    "synthesizer_for",
]
