"""Offline English recognition that needs no download: pocketsphinx's bundled en-US model.

It is the recognizer a fresh machine (the demo, CI) has, so simulated callees are heard for
real. Measured here: it recognizes Piper speech band-limited to 8 kHz verbatim when each
utterance is decoded whole (batch cepstral normalization); fed live, frame by frame, its
running normalization garbles the first seconds of a call. So a session only cuts the
stream into utterances with pocketsphinx's endpointer (cheap, per call) and decodes each one
whole on a decoder shared by the process: no partial results, finals at each pause.
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Any

import numpy as np
import structlog

from voicebot.audio import SAMPLE_RATE, Pcm, silence
from voicebot.speech.asr.base import (
    AsrError,
    Recognizer,
    RecognizerSession,
    RecognizerUnavailable,
    Transcript,
)
from voicebot.speech.resample import resample

INSTALL_HINT = "pip install pocketsphinx"
MODEL_RATE = 16000
"""The bundled acoustic model is wideband; telephone audio is upsampled to it."""
ENDPOINT_WINDOW_S = 0.5
"""Silence that ends an utterance; shorter splits "No, I'm not interested" at the comma."""
PAD_MS = 200

log = structlog.get_logger(__name__)
_WORD = re.compile(r"[a-z']+")


class _SharedDecoder:
    """The process's pocketsphinx decoder (model loaded once), used under a lock."""

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise RecognizerUnavailable(f"pocketsphinx is not installed: {INSTALL_HINT}") from exc
        try:
            self.decoder: Any = Decoder(samprate=MODEL_RATE, loglevel="FATAL")
        except RuntimeError as exc:
            raise AsrError(f"pocketsphinx could not load its bundled model: {exc}") from exc
        self.lock = threading.Lock()
        self._grammars: dict[tuple[str, ...], str] = {}

    def unknown_words(self, phrase: str) -> list[str]:
        return [w for w in phrase.split() if self.decoder.lookup_word(w) is None]

    def grammar_search(self, phrases: tuple[str, ...]) -> str:
        """The name of a JSGF search accepting exactly ``phrases`` (created once)."""
        with self.lock:
            name = self._grammars.get(phrases)
            if name is None:
                name = "g" + hashlib.sha256("\n".join(phrases).encode()).hexdigest()[:16]
                alternatives = " | ".join(f"( {p} )" for p in phrases)
                jsgf = f"#JSGF V1.0;\ngrammar {name};\npublic <phrase> = {alternatives};\n"
                self.decoder.add_jsgf_string(name, jsgf)
                self._grammars[phrases] = name
            return name

    def decode(self, pcm_8k: Pcm, search: str | None) -> str:
        """Decode one whole utterance (8 kHz) and return its words."""
        padded = np.concatenate([silence(PAD_MS), pcm_8k, silence(PAD_MS)])
        audio = resample(padded, SAMPLE_RATE, MODEL_RATE).tobytes()
        with self.lock:
            self.decoder.activate_search(search)
            self.decoder.start_utt()
            self.decoder.process_raw(audio, False, True)
            self.decoder.end_utt()
            hyp = self.decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        return " ".join(w for w in text.split() if not w.startswith(("<", "[", "++")))


_shared: _SharedDecoder | None = None
_shared_lock = threading.Lock()


def shared_decoder() -> _SharedDecoder:
    """The process-wide decoder, loaded on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = _SharedDecoder()
        return _shared


class PocketsphinxSession(RecognizerSession):
    """One call: an endpointer cuts utterances, each decoded whole on the shared decoder."""

    def __init__(self, decoder: _SharedDecoder, search: str | None) -> None:
        super().__init__()
        from pocketsphinx import Endpointer

        self._decoder = decoder
        self._search = search
        self._endpointer = Endpointer(
            window=ENDPOINT_WINDOW_S, sample_rate=SAMPLE_RATE, frame_length=0.02
        )
        self._frame_samples = self._endpointer.frame_bytes // 2
        self._pending = np.zeros(0, dtype=np.int16)
        self._speech: list[bytes] = []

    def _feed_impl(self, samples: Pcm) -> list[Transcript]:
        self._pending = np.concatenate([self._pending, samples])
        results: list[Transcript] = []
        n = self._frame_samples
        while len(self._pending) >= n:
            chunk, self._pending = self._pending[:n], self._pending[n:]
            speech = self._endpointer.process(chunk.tobytes())
            if speech is not None:
                self._speech.append(speech)
                if not self._endpointer.in_speech:
                    results += self._utterance_done()
        return results

    def _finish_impl(self) -> list[Transcript]:
        if self._endpointer.in_speech:
            # end_stream reads one whole frame (an empty buffer raises IndexError): pad it.
            last = np.zeros(self._frame_samples, dtype=np.int16)
            last[: len(self._pending)] = self._pending[: self._frame_samples]
            rest = self._endpointer.end_stream(last.tobytes())
            if rest is not None:
                self._speech.append(rest)
        self._pending = np.zeros(0, dtype=np.int16)
        return self._utterance_done() if self._speech else []

    def _utterance_done(self) -> list[Transcript]:
        audio = np.frombuffer(b"".join(self._speech), dtype=np.int16)
        self._speech = []
        text = self._decoder.decode(audio, self._search)
        return [Transcript(text, final=True)] if text else []


class PocketsphinxRecognizer(Recognizer):
    """English (en-US model) recognition, offline, with optional phrase grammars."""

    engine = "pocketsphinx"

    def __init__(self, locale: str = "en-US") -> None:
        if locale.split("-")[0].lower() != "en":
            raise RecognizerUnavailable(
                f"pocketsphinx bundles an English model only, not {locale}; "
                "pull a vosk model: voicebot models list"
            )
        super().__init__(locale)
        self._decoder = shared_decoder()

    def _session_impl(self, phrases: list[str] | None) -> RecognizerSession:
        if phrases is None:
            return PocketsphinxSession(self._decoder, None)
        usable: list[str] = []
        for phrase in phrases:
            words = " ".join(_WORD.findall(phrase.lower()))
            missing = self._decoder.unknown_words(words) if words else [phrase]
            if missing:
                log.warning(
                    "asr_phrase_dropped", engine=self.engine, phrase=phrase, unknown=missing
                )
            else:
                usable.append(words)
        if not usable:
            raise ValueError(f"no phrase is speakable with the pocketsphinx dictionary: {phrases}")
        return PocketsphinxSession(self._decoder, self._decoder.grammar_search(tuple(usable)))
