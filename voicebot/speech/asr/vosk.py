"""Streaming recognition with vosk (Kaldi) when a model is configured: partials and finals.

A vosk model is loaded once per process per directory and shared by every call; a session
is a ``KaldiRecognizer`` (cheap) fed 20 ms frames at 8 kHz. When a state listens for a few
known answers, a session may restrict decoding to those phrases (a runtime grammar; models
with a lookahead graph, such as the small ones, support it), which makes short answers
reliable even with small models.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from voicebot.audio import SAMPLE_RATE, Pcm
from voicebot.speech.asr.base import (
    AsrError,
    Recognizer,
    RecognizerSession,
    RecognizerUnavailable,
    Transcript,
)

INSTALL_HINT = "pip install 'voicebot[vosk]'"
UNKNOWN = "[unk]"

_models: dict[Path, Any] = {}
_lock = threading.Lock()


def load_model(path: Path) -> Any:
    """The ``vosk.Model`` in ``path``, loaded on first use and then shared.

    Raises:
        RecognizerUnavailable: vosk is not installed.
        AsrError: the directory is not a vosk model.
    """
    resolved = path.resolve()
    with _lock:
        model = _models.get(resolved)
        if model is not None:
            return model
        try:
            import vosk
        except ImportError as exc:
            raise RecognizerUnavailable(f"vosk is not installed: {INSTALL_HINT}") from exc
        if not (resolved / "am" / "final.mdl").is_file() or not (resolved / "conf").is_dir():
            raise AsrError(f"{path} is not a vosk model directory (expected am/final.mdl, conf/)")
        vosk.SetLogLevel(-1)
        try:
            model = vosk.Model(str(resolved))
        except Exception as exc:  # vosk raises a bare Exception
            raise AsrError(f"vosk could not load the model in {path}: {exc}") from exc
        _models[resolved] = model
        return model


class VoskSession(RecognizerSession):
    """One call's ``KaldiRecognizer``; partials are reported when they change."""

    def __init__(self, model: Any, grammar: list[str] | None) -> None:
        super().__init__()
        import vosk

        if grammar is None:
            self._recognizer = vosk.KaldiRecognizer(model, SAMPLE_RATE)
        else:
            self._recognizer = vosk.KaldiRecognizer(
                model, SAMPLE_RATE, json.dumps(grammar, ensure_ascii=False)
            )
        self._partial = ""

    def _feed_impl(self, samples: Pcm) -> list[Transcript]:
        if self._recognizer.AcceptWaveform(samples.astype("<i2").tobytes()):
            return self._final(self._recognizer.Result())
        partial = str(json.loads(self._recognizer.PartialResult()).get("partial", ""))
        partial = _clean(partial)
        if partial == self._partial:
            return []
        self._partial = partial
        return [Transcript(partial, final=False)] if partial else []

    def _finish_impl(self) -> list[Transcript]:
        return self._final(self._recognizer.FinalResult())

    def _final(self, result_json: str) -> list[Transcript]:
        self._partial = ""
        text = _clean(str(json.loads(result_json).get("text", "")))
        return [Transcript(text, final=True)] if text else []


def _clean(text: str) -> str:
    """Words only: drop ``[unk]`` and other bracketed non-speech tokens some models emit."""
    return " ".join(w for w in text.split() if not (w.startswith("[") and w.endswith("]")))


class VoskRecognizer(Recognizer):
    """Recognition with a vosk model directory for one locale."""

    engine = "vosk"

    def __init__(self, model_dir: Path, locale: str) -> None:
        super().__init__(locale)
        self.model_dir = model_dir
        self._model = load_model(model_dir)

    def knows(self, word: str) -> bool:
        """Whether the model's vocabulary has ``word`` (grammars may use only these)."""
        return int(self._model.vosk_model_find_word(word)) >= 0

    def _session_impl(self, phrases: list[str] | None) -> RecognizerSession:
        if phrases is None:
            return VoskSession(self._model, None)
        usable = self.usable_phrases(
            phrases,
            lambda phrase: [w for w in phrase.split() if not self.knows(w)],
            f"no phrase uses only words of the vosk model in {self.model_dir}",
        )
        if self.knows(UNKNOWN):
            usable.append(UNKNOWN)
        return VoskSession(self._model, usable)
