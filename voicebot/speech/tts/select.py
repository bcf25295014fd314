"""Which TTS engine speaks a locale: configured, or the best one reachable right now.

``VOICEBOT_TTS`` = ``auto`` (default) | ``offline`` | ``edge`` | ``piper`` | ``espeak``.
``auto`` uses edge-tts only if its extra is installed (``voicebot[edge-tts]``), its service
answers a quick probe and it has a voice for the locale; otherwise, and always with
``offline``, Piper for English and espeak-ng for Mandarin and every other locale (``offline``
never touches the network: tests and CI use it).
Engines are imported only when chosen, so choosing never loads a model.
"""

from __future__ import annotations

import os
from typing import Final

from voicebot.audio import Pcm
from voicebot.speech.tts.base import Synthesizer, TtsError
from voicebot.speech.tts.cache import TtsCache

ENGINE_ENV: Final = "VOICEBOT_TTS"
ENGINES: Final = ("auto", "offline", "edge", "piper", "espeak")


def engine_setting(value: str | None = None) -> str:
    """The configured engine: ``value``, else ``$VOICEBOT_TTS``, else ``auto``.

    Raises:
        ValueError: the setting names no engine.
    """
    setting = (value or os.environ.get(ENGINE_ENV) or "auto").strip().lower()
    if setting not in ENGINES:
        raise ValueError(
            f"{ENGINE_ENV}={setting!r}: expected one of {', '.join(ENGINES)}"
            if value is None
            else f"unknown TTS engine {setting!r}: expected one of {', '.join(ENGINES)}"
        )
    return setting


def is_english(locale: str) -> bool:
    """Whether Piper's English voice can speak ``locale``."""
    return locale.split("-")[0].lower() == "en"


def offline_engine_for(locale: str) -> str:
    """Piper for English, espeak-ng for everything else."""
    return "piper" if is_english(locale) else "espeak"


async def choose_engine(locale: str, setting: str | None = None) -> str:
    """The engine to use for ``locale`` now (may probe the edge service, bounded and cached)."""
    chosen = engine_setting(setting)
    if chosen == "offline":
        return offline_engine_for(locale)
    if chosen != "auto":
        return chosen
    from voicebot.speech.tts.edge import edge_installed, edge_reachable, edge_voice_for

    if edge_installed() and edge_voice_for(locale) is not None and await edge_reachable():
        return "edge"
    return offline_engine_for(locale)


def default_voice(engine: str, locale: str) -> str:
    """The engine's voice for a locale.

    Raises:
        TtsError: the engine has no voice for the locale.
    """
    if engine == "piper":
        if not is_english(locale):
            raise TtsError(
                f"Piper has an English voice only; use espeak (or edge online) for {locale}"
            )
        from voicebot.speech.tts.piper import DEFAULT_VOICE

        return DEFAULT_VOICE
    if engine == "espeak":
        from voicebot.speech.tts.espeak import espeak_voice_for

        return espeak_voice_for(locale)
    if engine == "edge":
        from voicebot.speech.tts.edge import edge_voice_for

        voice = edge_voice_for(locale)
        if voice is None:
            raise TtsError(f"no default edge-tts voice for {locale}; configure one by name")
        return voice
    raise ValueError(f"unknown TTS engine {engine!r}: expected one of {', '.join(ENGINES[2:])}")


def make_synthesizer(
    engine: str, locale: str, voice: str | None = None, cache: TtsCache | None = None
) -> Synthesizer:
    """A synthesizer of a named engine (not ``auto``) for ``locale``."""
    chosen_voice = voice or default_voice(engine, locale)
    if engine == "piper":
        from voicebot.speech.tts.piper import PiperSynthesizer

        return PiperSynthesizer(chosen_voice, cache=cache)
    if engine == "espeak":
        from voicebot.speech.tts.espeak import EspeakSynthesizer

        return EspeakSynthesizer(chosen_voice, cache=cache)
    from voicebot.speech.tts.edge import EdgeSynthesizer

    return EdgeSynthesizer(chosen_voice, cache=cache)


async def synthesizer_for(
    locale: str,
    engine: str | None = None,
    voice: str | None = None,
    cache: TtsCache | None = None,
) -> Synthesizer:
    """The synthesizer a call in ``locale`` should use (engine per config, else ``auto``).

    With ``auto``, edge-tts comes wrapped with the offline engine as a fallback, so a service
    that answers the probe but then fails does not silence the call.
    """
    setting = engine_setting(engine)
    chosen = await choose_engine(locale, setting)
    synth = make_synthesizer(chosen, locale, voice, cache)
    if setting == "auto" and chosen == "edge":
        from voicebot.speech.tts.fallback import FallbackSynthesizer

        offline = make_synthesizer(offline_engine_for(locale), locale, None, synth.cache)
        return FallbackSynthesizer(synth, offline)
    return synth


def prerendered(text: str, locale: str, cache: TtsCache | None = None) -> Pcm | None:
    """A cached rendering of ``text`` by any engine that may speak ``locale``, or None.

    Prompts rendered ahead (``voicebot prompts render``) may come from edge-tts while a
    call runs offline, or the reverse; the disclosure must still play from the file. The
    configured engine is tried first, then edge-tts, then the offline engine; never loads one.
    """
    store = cache if cache is not None else TtsCache()
    setting = engine_setting()
    order = [setting] if setting != "auto" else []
    order += [e for e in ("edge", offline_engine_for(locale)) if e not in order]
    for engine in order:
        try:
            voice = default_voice(engine, locale)
        except TtsError:
            continue
        hit = store.get(engine, voice, text.strip())
        if hit is not None:
            return hit
    return None
