"""Offline speech in Mandarin and every other locale with espeak-ng, no apt needed.

``espeakng-loader`` ships ``libespeak-ng`` and its data on PyPI; we drive the C API through
ctypes in synchronous mode, collecting samples from the synth callback into a buffer. The
library keeps one global voice and one callback, so every synthesis holds a process-wide
lock; espeak-ng renders far faster than real time, so calls do not wait long.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.speech.tts.base import EngineUnavailable, RawAudio, Synthesizer, TtsError
from voicebot.speech.tts.cache import TtsCache

INSTALL_HINT = "pip install espeakng-loader"

RATE_WPM = 175
"""espeak-ng's own default, set explicitly so every rendering uses it. Measured here: slower
speech (130-160) made vosk's Korean model confuse short answers. Part of the rendering:
changing it needs a cache FORMAT_VERSION bump."""

# espeak_ng API constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0
_RATE = 1

_VOICE_BY_LOCALE = {
    "zh-CN": "cmn",
    "zh-SG": "cmn",
    "zh-TW": "cmn",
    "zh-HK": "yue",
    "zh": "cmn",
    "en-US": "en-us",
    "en-GB": "en-gb",
    "en": "en-us",
}

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def installed_voices() -> frozenset[str]:
    """Lowercase names of the voices in espeak-ng's data (``lang/**``), e.g. ``en-us``, ``ko``."""
    try:
        import espeakng_loader
    except ImportError as exc:
        raise EngineUnavailable(f"espeak-ng is not installed: {INSTALL_HINT}") from exc
    lang = Path(espeakng_loader.get_data_path()) / "lang"
    return frozenset(p.name.lower() for p in lang.rglob("*") if p.is_file())


def espeak_voice_for(locale: str) -> str:
    """The espeak-ng voice for a locale: Mandarin is ``cmn``; else the locale, else its language.

    Raises:
        TtsError: espeak-ng has no voice for the locale's language.
    """
    if locale in _VOICE_BY_LOCALE:
        return _VOICE_BY_LOCALE[locale]
    voices = installed_voices()
    for candidate in (locale.lower(), locale.split("-")[0].lower()):
        if candidate in voices:
            return candidate
    raise TtsError(f"espeak-ng has no voice for {locale}; it has {len(voices)} others")


class _Espeak:
    """The process's one handle on libespeak-ng (global state, hence a lock)."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise EngineUnavailable(f"espeak-ng is not installed: {INSTALL_HINT}") from exc
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        data = espeakng_loader.get_data_path().encode()
        self.sample_rate = int(lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0))
        if self.sample_rate <= 0:
            raise TtsError("espeak-ng failed to initialize (its data directory is unusable)")
        self._chunks: list[np.ndarray[Any, Any]] = []
        self._callback = _SynthCallback(self._collect)  # kept alive: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _collect(self, wav: Any, count: int, _events: Any) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0  # continue

    def synthesize(self, voice: str, text: str, rate_wpm: int) -> np.ndarray[Any, Any]:
        with self.lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise TtsError(f"espeak-ng has no voice {voice!r} (try a language code: cmn, ko)")
            self._lib.espeak_SetParameter(_RATE, rate_wpm, 0)
            self._chunks = []
            encoded = text.encode("utf-8") + b"\0"
            buffer = ctypes.create_string_buffer(encoded, len(encoded))
            status = self._lib.espeak_Synth(
                buffer, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            self._lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if status != _EE_OK:
            raise TtsError(f"espeak-ng failed to synthesize (error {status})")
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(chunks).astype(np.int16)


_engine: _Espeak | None = None
_engine_lock = threading.Lock()


def _espeak() -> _Espeak:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Espeak()
        return _engine


class EspeakSynthesizer(Synthesizer):
    """TTS for any locale espeak-ng knows (Mandarin as ``cmn``), offline and tiny."""

    engine = "espeak"

    def __init__(self, voice: str = "cmn", *, cache: TtsCache | None = None) -> None:
        super().__init__(voice, cache=cache)

    async def _synthesize_impl(self, text: str, voice: str) -> RawAudio:
        return await asyncio.to_thread(self._synthesize_sync, text, voice)

    def _synthesize_sync(self, text: str, voice: str) -> RawAudio:
        engine = _espeak()
        return RawAudio(engine.synthesize(voice, text, RATE_WPM), engine.sample_rate)
