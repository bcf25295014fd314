"""Recognition with the offline English fallback: pocketsphinx hears Piper over a phone line.

Real engines on both ends: Piper renders the callee's words, the telephone band (300-3400 Hz
at 8 kHz) shapes them like a PSTN line, pocketsphinx's bundled model recognizes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import jiwer
import numpy as np
import pytest

from voicebot.audio import FRAME_SAMPLES, Pcm, frames, silence
from voicebot.speech.asr import RecognizerUnavailable, Transcript, recognizer_for
from voicebot.speech.asr.pocketsphinx import PocketsphinxRecognizer
from voicebot.speech.resample import telephone_band
from voicebot.speech.tts import TtsCache
from voicebot.speech.tts.piper import PiperSynthesizer

Say = Callable[[str], Pcm]


@pytest.fixture(scope="module")
def recognizer() -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer("en-US")


@pytest.fixture(scope="module")
def say(tmp_path_factory: pytest.TempPathFactory) -> Say:
    synth = PiperSynthesizer(cache=TtsCache(tmp_path_factory.mktemp("tts")))

    def render(text: str) -> Pcm:
        return telephone_band(asyncio.run(synth.render(text)))

    return render


OPEN_VOCABULARY = [
    "No, I'm not interested, thank you.",
    "I want to talk to a person.",
    "Please don't call me again.",
    "Call me back tomorrow afternoon.",
    "Yes, that sounds good.",
    "I'm busy right now, sorry.",
    "Can you tell me more about the offer?",
    "Take me off your list.",
]


def _words(text: str) -> list[str]:
    return "".join(c for c in text.lower() if c.isalpha() or c.isspace()).split()


@pytest.mark.integration
def test_piper_over_a_phone_line_is_heard_with_few_errors(
    recognizer: PocketsphinxRecognizer, say: Say
) -> None:
    # Open vocabulary (no phrase list), eight sentences. Which words pocketsphinx misses moves
    # with the CPU's floating point (the same packages heard "interested" on one machine and
    # "encouraged to" on another), so the test holds the rate, not each word: about a quarter
    # of the words are wrong here; a broken line (rate, band, framing) gets nearly all wrong.
    refs = [" ".join(_words(text)) for text in OPEN_VOCABULARY]
    heard = [" ".join(_words(recognizer.transcribe(say(text)))) for text in OPEN_VOCABULARY]
    assert jiwer.wer(refs, heard) <= 0.35, list(zip(refs, heard, strict=True))
    assert sum(r == h for r, h in zip(refs, heard, strict=True)) >= 2, heard


@pytest.mark.integration
def test_each_pause_ends_an_utterance(recognizer: PocketsphinxRecognizer, say: Say) -> None:
    stream = np.concatenate(
        [silence(400), say("Not interested."), silence(1500), say("I want to talk to a person.")]
    )
    session = recognizer.session()
    results: list[Transcript] = []
    for frame in frames(np.concatenate([stream, silence(1000)])):
        results += session.feed(frame)
    results += session.finish()
    finals = [r.text for r in results if r.final]
    assert finals == ["not interested", "i want to talk to a person"]
    # Decoded live: words heard so far come before each final.
    assert not results[0].final and results[-1].final


@pytest.mark.integration
def test_a_phrase_grammar_restricts_what_is_heard(
    recognizer: PocketsphinxRecognizer, say: Say
) -> None:
    phrases = ["yes", "no", "please don't call me again", "not interested", "Zyxwv qux"]
    heard = recognizer.transcribe(say("Please don't call me again."), phrases)
    assert heard == "please don't call me again"
    # The free language model, on the same audio, is less sure: a grammar is worth having.
    assert recognizer.transcribe(say("Please don't call me again.")).endswith("call me again")


@pytest.mark.integration
def test_unusable_phrases_are_refused(recognizer: PocketsphinxRecognizer) -> None:
    with pytest.raises(ValueError, match="no phrase is speakable"):
        recognizer.session(["zyxwv qux"])
    with pytest.raises(ValueError, match="all are empty"):
        recognizer.session(["  "])


@pytest.mark.integration
async def test_stream_recognizes_an_async_frame_source(
    recognizer: PocketsphinxRecognizer, say: Say
) -> None:
    speech = await asyncio.to_thread(say, "Not interested.")

    async def call_audio() -> AsyncIterator[Pcm]:
        for frame in frames(np.concatenate([silence(300), speech, silence(900)])):
            yield frame

    results = [r async for r in recognizer.stream(call_audio())]
    assert [r for r in results if r.final] == [Transcript("not interested", final=True)]


@pytest.mark.integration
def test_session_checks_its_input(recognizer: PocketsphinxRecognizer) -> None:
    session = recognizer.session()
    with pytest.raises(ValueError, match="mono int16"):
        session.feed(np.zeros(FRAME_SAMPLES, dtype=np.float32))
    assert session.feed(silence(20)) == []
    assert session.finish() == []
    assert session.finish() == []
    with pytest.raises(RuntimeError, match="finished"):
        session.feed(silence(20))


@pytest.mark.integration
def test_sessions_are_independent(recognizer: PocketsphinxRecognizer, say: Say) -> None:
    a, b = recognizer.session(), recognizer.session()
    speech_a = np.concatenate([silence(300), say("Not interested."), silence(900)])
    speech_b = np.concatenate([silence(300), say("I want to talk to a person."), silence(900)])
    results_a: list[Transcript] = []
    results_b: list[Transcript] = []
    for fa, fb in zip(frames(speech_a), frames(speech_b), strict=False):
        results_a += a.feed(fa)
        results_b += b.feed(fb)
    results_a += a.finish()
    for fb in list(frames(speech_b))[len(list(frames(speech_a))) :]:
        results_b += b.feed(fb)
    results_b += b.finish()
    assert [r.text for r in results_a if r.final] == ["not interested"]
    assert [r.text for r in results_b if r.final] == ["i want to talk to a person"]


@pytest.mark.integration
def test_english_without_a_vosk_model_falls_back_to_pocketsphinx(tmp_path: Path) -> None:
    chosen = recognizer_for("en-US", models_directory=tmp_path)
    assert chosen.engine == "pocketsphinx"


def test_a_locale_without_a_model_says_what_to_pull(tmp_path: Path) -> None:
    # Mandarin has packaged Whisper weights (see test_asr_whisper.py); Japanese has none.
    with pytest.raises(RecognizerUnavailable, match=r"models pull vosk-model-small-ja-0\.22"):
        recognizer_for("ja-JP", models_directory=tmp_path)
    with pytest.raises(RecognizerUnavailable, match="English model only"):
        PocketsphinxRecognizer("zh-CN")


@pytest.mark.parametrize("pad_ms", [0, 7, 13])
@pytest.mark.integration
def test_speech_running_to_the_very_end_is_still_decoded(
    recognizer: PocketsphinxRecognizer, say: Say, pad_ms: int
) -> None:
    # The stream ends while the endpointer is still in speech, with a partial frame (or none)
    # pending: that last piece must be flushed, not crash the call's ears.
    pcm = say("Yes, tell me more.")
    tail = np.zeros(8 * pad_ms, dtype=np.int16)
    assert "tell me more" in recognizer.transcribe(np.concatenate([pcm, tail]))
