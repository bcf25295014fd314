"""Which recognizer hears a locale: vosk when a model is configured or installed, else the
offline English fallback (pocketsphinx's bundled model), else a clear error."""

from __future__ import annotations

from pathlib import Path

from voicebot.speech.asr.base import Recognizer, RecognizerUnavailable
from voicebot.speech.asr.models import OFFICIAL, model_for_locale, resolve


def recognizer_for(
    locale: str, model: str | None = None, models_directory: Path | None = None
) -> Recognizer:
    """The recognizer for calls in ``locale``.

    Args:
        locale: the flow's locale, e.g. ``zh-CN``.
        model: a vosk model (path, pulled name or package name); default: one installed for
            the locale, if any.
        models_directory: where pulled models are; default: :func:`models.models_dir`.

    Raises:
        RecognizerUnavailable: no model for the locale and no offline fallback for it.
        ModelError: ``model`` names nothing installed.
    """
    path = resolve(model, models_directory) if model else model_for_locale(locale, models_directory)
    language = locale.split("-")[0].lower()
    if path is not None:
        from voicebot.speech.asr.vosk import VoskRecognizer

        return VoskRecognizer(path, locale)
    if language == "en":
        from voicebot.speech.asr.pocketsphinx import PocketsphinxRecognizer

        return PocketsphinxRecognizer(locale)
    suggestions = [m.name for m in OFFICIAL.values() if m.locale.split("-")[0] == language]
    hint = f"voicebot models pull {suggestions[0]} --sha256 HEX" if suggestions else "a vosk model"
    raise RecognizerUnavailable(f"no speech recognizer for {locale}: install {hint}")
