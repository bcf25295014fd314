"""Offline English recognition that needs no download: pocketsphinx's bundled en-US model.

It is the recognizer a fresh machine (the demo, CI) has, so simulated callees are heard for
real. Audio is decoded live, as the caller speaks, so the words are ready a few tens of
milliseconds after the end of speech. Fed live with the model's default start values, the
running cepstral normalisation garbles the first seconds of a call (it starts from wideband
microphone statistics); each utterance therefore starts from :data:`TELEPHONE_CMN`, the means
measured on telephone-band speech, and then adapts as usual. With it the live words equal the
whole-utterance (batch normalised) words on the personas' lines, which were not used to
measure it.

The second ("flat lexicon") search pass is off: it runs over the whole utterance after its
end, which made the final words wait 90-460 ms on a busy 2-core machine. Measured on 19
Piper lines over the telephone band (108 words; the persona lines and six others), live
decoding without it has the word error rate of the old whole-utterance decoding (28.7 %)
and flushes in 25 ms on average (241 ms with the second pass, whose error rate was 25 %).

Phrase grammars (:meth:`Recognizer.session` with ``phrases``) were measured as the default
for listening states: a JSGF grammar of the en-US intent lexicon's 133 phrases decoded in a
seventh of the CPU, but the intent heard agreed with the spoken one on 11 of 21 lines (persona
lines and twelve others) against 20 of 21 with the open vocabulary, since anything outside the
grammar is forced onto some phrase. Calls therefore listen with the open vocabulary.

A decoder holds the model (about 90 MB) and one utterance at a time: each process keeps a
small stock of them, lent to utterances while they are spoken.
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Any

import numpy as np
import structlog

from voicebot.audio import SAMPLE_RATE, Pcm
from voicebot.speech.asr.base import (
    AsrError,
    Recognizer,
    RecognizerSession,
    RecognizerUnavailable,
    Transcript,
)

INSTALL_HINT = "pip install pocketsphinx"
MODEL_RATE = 16000
"""The bundled acoustic model is wideband; telephone audio is upsampled to it."""
ENDPOINT_WINDOW_S = 0.5
"""Silence that ends an utterance; shorter splits "No, I'm not interested" at the comma."""
PAD_MS = 200
"""Silence fed before an utterance cut by someone else's endpointer (the model expects some)."""
PARTIAL_EVERY_FRAMES = 5
"""A partial hypothesis is read every this many 20 ms frames (100 ms)."""
TELEPHONE_CMN = "45.82,33.24,-45.24,27.31,-18.74,-32.77,9.66,-41.08,-13.45,-2.08,-27.33,4.17,-18.66"
"""Cepstral means of Piper speech band-limited to 300-3400 Hz and upsampled to 16 kHz: the
mean over three sentences that are none of the personas' lines ("Good morning, I am calling
about the survey we sent you last week.", "The weather today is cloudy with a chance of rain
in the afternoon.", "Please hold on while I check the details of your account."), read with
``Decoder.get_cmn()`` after batch decoding each. The model's default (40,3,-1) is for
wideband microphones."""

log = structlog.get_logger(__name__)
_WORD = re.compile(r"[a-z']+")


class _Decoders:
    """This process's pocketsphinx decoders: one per utterance being spoken, reused after."""

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise RecognizerUnavailable(f"pocketsphinx is not installed: {INSTALL_HINT}") from exc
        self._decoder_cls = Decoder
        self._free: list[Any] = []
        self._grammars: dict[tuple[str, ...], str] = {}
        self._known: dict[int, set[str]] = {}
        """Grammar searches each decoder (by id; decoders live as long as the process) has."""
        self._lock = threading.Lock()
        self.created = 0
        self.dictionary = self._new()  # kept as the first free decoder too
        self._free.append(self.dictionary)

    def _new(self) -> Any:
        try:
            decoder = self._decoder_cls(
                samprate=MODEL_RATE, loglevel="FATAL", cmn="live", fwdflat=False
            )
        except RuntimeError as exc:
            raise AsrError(f"pocketsphinx could not load its bundled model: {exc}") from exc
        for phrases, name in self._grammars.items():
            decoder.add_jsgf_string(name, _jsgf(name, phrases))
        self._known[id(decoder)] = set(self._grammars.values())
        self.created += 1
        return decoder

    def reserve(self, count: int) -> None:
        """Have at least ``count`` decoders loaded (a worker loads them before its first call)."""
        while self.created < count:
            decoder = self._new()
            with self._lock:
                self._free.append(decoder)

    def unknown_words(self, phrase: str) -> list[str]:
        with self._lock:
            return [w for w in phrase.split() if self.dictionary.lookup_word(w) is None]

    def grammar_search(self, phrases: tuple[str, ...]) -> str:
        """The name of a JSGF search accepting exactly ``phrases``, on every decoder."""
        with self._lock:
            name = self._grammars.get(phrases)
            if name is None:
                name = "g" + hashlib.sha256("\n".join(phrases).encode()).hexdigest()[:16]
                for decoder in self._free:
                    decoder.add_jsgf_string(name, _jsgf(name, phrases))
                    self._known.setdefault(id(decoder), set()).add(name)
                self._grammars[phrases] = name
            return name

    def borrow(self) -> Any:
        with self._lock:
            if self._free:
                return self._free.pop()
        log.info("asr_decoder_added", engine="pocketsphinx", decoders=self.created + 1)
        return self._new()

    def give_back(self, decoder: Any) -> None:
        with self._lock:
            known = self._known.setdefault(id(decoder), set())
            for phrases, name in self._grammars.items():
                if name not in known:  # a grammar added while it was lent
                    decoder.add_jsgf_string(name, _jsgf(name, phrases))
                    known.add(name)
            self._free.append(decoder)


def _jsgf(name: str, phrases: tuple[str, ...]) -> str:
    alternatives = " | ".join(f"( {p} )" for p in phrases)
    return f"#JSGF V1.0;\ngrammar {name};\npublic <phrase> = {alternatives};\n"


_decoders: _Decoders | None = None
_decoders_lock = threading.Lock()


def decoders() -> _Decoders:
    """The process's decoders, loaded on first use."""
    global _decoders
    with _decoders_lock:
        if _decoders is None:
            _decoders = _Decoders()
        return _decoders


class _Upsampler:
    """8 kHz -> 16 kHz for one utterance, streaming (libswresample keeps the filter state)."""

    def __init__(self) -> None:
        import av

        self._av = av
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=MODEL_RATE)

    def feed(self, pcm: Pcm | None) -> bytes:
        """Resampled bytes for ``pcm``; None flushes what the filter holds back."""
        if pcm is None:
            out = self._resampler.resample(None)
        else:
            frame = self._av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm).reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = SAMPLE_RATE
            out = self._resampler.resample(frame)
        return b"".join(f.to_ndarray().astype(np.int16).tobytes() for f in out)


class _LiveUtterance:
    """One utterance decoded while it is spoken, on a borrowed decoder."""

    def __init__(self, pool: _Decoders, search: str | None) -> None:
        self._pool = pool
        self._decoder = pool.borrow()
        self._decoder.activate_search(search)
        self._decoder.set_cmn(TELEPHONE_CMN)
        self._decoder.start_utt()
        self._upsampler = _Upsampler()
        self._frames = 0
        self._partial = ""

    def feed(self, pcm: Pcm) -> Transcript | None:
        """Decode ``pcm``; a partial result when the hypothesis changed (every 100 ms)."""
        audio = self._upsampler.feed(pcm)
        if audio:
            self._decoder.process_raw(audio, False, False)
        self._frames += 1
        if self._frames % PARTIAL_EVERY_FRAMES:
            return None
        text = _words(self._decoder.hyp())
        if text == self._partial:
            return None
        self._partial = text
        return Transcript(text, final=False) if text else None

    def end(self) -> str:
        """Finish the utterance, return the decoder, and give the final words."""
        try:
            rest = self._upsampler.feed(None)
            if rest:
                self._decoder.process_raw(rest, False, False)
            self._decoder.end_utt()
            return _words(self._decoder.hyp())
        finally:
            self._pool.give_back(self._decoder)


def _words(hyp: Any) -> str:
    text = hyp.hypstr if hyp is not None else ""
    return " ".join(w for w in text.split() if not w.startswith(("<", "[", "++")))


class PocketsphinxSession(RecognizerSession):
    """One call: an endpointer cuts utterances, each decoded live as it is spoken."""

    def __init__(self, pool: _Decoders, search: str | None) -> None:
        super().__init__()
        from pocketsphinx import Endpointer

        self._pool = pool
        self._search = search
        self._endpointer = Endpointer(
            window=ENDPOINT_WINDOW_S, sample_rate=SAMPLE_RATE, frame_length=0.02
        )
        self._frame_samples = self._endpointer.frame_bytes // 2
        self._pending = np.zeros(0, dtype=np.int16)
        self._live: _LiveUtterance | None = None

    def _feed_impl(self, samples: Pcm) -> list[Transcript]:
        self._pending = np.concatenate([self._pending, samples])
        results: list[Transcript] = []
        n = self._frame_samples
        while len(self._pending) >= n:
            chunk, self._pending = self._pending[:n], self._pending[n:]
            speech = self._endpointer.process(chunk.tobytes())
            if speech is not None:
                results += self._speech(speech)
                if not self._endpointer.in_speech:
                    results += self._utterance_done()
        return results

    def _speech(self, speech: bytes) -> list[Transcript]:
        if self._live is None:
            self._live = _LiveUtterance(self._pool, self._search)
        partial = self._live.feed(np.frombuffer(speech, dtype=np.int16))
        return [partial] if partial is not None else []

    def _finish_impl(self) -> list[Transcript]:
        results: list[Transcript] = []
        if self._endpointer.in_speech:
            # end_stream reads one whole frame (an empty buffer raises IndexError): pad it.
            last = np.zeros(self._frame_samples, dtype=np.int16)
            last[: len(self._pending)] = self._pending[: self._frame_samples]
            rest = self._endpointer.end_stream(last.tobytes())
            if rest is not None:
                results += self._speech(rest)
        self._pending = np.zeros(0, dtype=np.int16)
        return results + self._utterance_done()

    def _utterance_done(self) -> list[Transcript]:
        if self._live is None:
            return []
        live, self._live = self._live, None
        text = live.end()
        return [Transcript(text, final=True)] if text else []


class PocketsphinxUtterance(RecognizerSession):
    """One utterance already cut by the caller's voice activity detector: decoded live."""

    def __init__(self, pool: _Decoders, search: str | None) -> None:
        super().__init__()
        self._live = _LiveUtterance(pool, search)
        self._live.feed(np.zeros(SAMPLE_RATE * PAD_MS // 1000, dtype=np.int16))

    def _feed_impl(self, samples: Pcm) -> list[Transcript]:
        partial = self._live.feed(samples)
        return [partial] if partial is not None else []

    def _finish_impl(self) -> list[Transcript]:
        # No padding here: the detector's end-of-speech silence has been decoded already.
        text = self._live.end()
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
        self._decoders = decoders()

    def prepare(self, utterances: int) -> None:
        """Load a decoder for each of ``utterances`` simultaneous utterances now."""
        self._decoders.reserve(utterances)

    def _search_for(self, phrases: list[str] | None) -> str | None:
        if phrases is None:
            return None
        usable = self.usable_phrases(
            phrases,
            self._decoders.unknown_words,
            "no phrase is speakable with the pocketsphinx dictionary",
            spoken=lambda phrase: " ".join(_WORD.findall(phrase.lower())),
        )
        return self._decoders.grammar_search(tuple(usable))

    def _session_impl(self, phrases: list[str] | None) -> RecognizerSession:
        return PocketsphinxSession(self._decoders, self._search_for(phrases))

    def _utterance_impl(self, phrases: list[str] | None) -> RecognizerSession:
        return PocketsphinxUtterance(self._decoders, self._search_for(phrases))
