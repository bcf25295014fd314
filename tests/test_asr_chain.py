"""A chain of real recognizers: pocketsphinx first, Whisper only when pocketsphinx is unsure.

Piper's joe voice (which pocketsphinx hears) and an espeak-ng voice (which it garbles) in one
call's stream: the first utterance is answered by pocketsphinx alone, the second is heard
again by Whisper.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voicebot.audio import Pcm, frames, silence
from voicebot.speech.asr import Recognizer, Transcript, recognizer_for
from voicebot.speech.asr.chain import ChainRecognizer, chain_transcribe
from voicebot.speech.intent import recognize
from voicebot.speech.resample import resample, telephone_band
from voicebot.speech.tts import TtsCache
from voicebot.speech.tts.espeak import _espeak
from voicebot.speech.tts.piper import PiperSynthesizer


@pytest.fixture(scope="module")
def chain() -> Recognizer:
    return recognizer_for("en-US", engine="pocketsphinx>whisper")


def piper(text: str, cache: TtsCache) -> Pcm:
    return telephone_band(asyncio.run(PiperSynthesizer(cache=cache).render(text)))


def espeak(text: str, voice: str = "en+f2") -> Pcm:
    engine = _espeak()
    return telephone_band(resample(engine.synthesize(voice, text, 175), engine.sample_rate))


def test_only_unsure_utterances_reach_the_second_engine(
    chain: Recognizer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert isinstance(chain, ChainRecognizer)
    cache = TtsCache(tmp_path_factory.mktemp("tts"))
    clear = piper("No, I'm not interested, thank you.", cache)
    text, intent, asked = chain_transcribe(clear, chain.engines, "en-US")
    assert (intent, asked) == ("refuse", ["pocketsphinx"]), text
    other = espeak("Please don't call me again.")
    text, intent, asked = chain_transcribe(other, chain.engines, "en-US")
    assert (intent, asked) == ("opt_out", ["pocketsphinx", "whisper"]), text


def test_a_chain_session_hears_each_utterance_once(
    chain: Recognizer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cache = TtsCache(tmp_path_factory.mktemp("tts"))
    stream = np.concatenate(
        [
            silence(300),
            piper("No, I'm not interested, thank you.", cache),
            silence(1200),
            piper("Please don't call me again.", cache),
            silence(1000),
        ]
    )
    session = chain.session()
    results: list[Transcript] = []
    for frame in frames(stream):
        results += session.feed(frame)
    results += session.finish()
    intents = [recognize(r.text, "en-US").intent for r in results if r.final]
    assert intents == ["refuse", "opt_out"], results


def test_a_chain_needs_two_engines_of_one_locale() -> None:
    with pytest.raises(ValueError, match="at least two"):
        ChainRecognizer([recognizer_for("en-US", engine="pocketsphinx")])


def test_the_engine_can_be_configured_per_language(monkeypatch: pytest.MonkeyPatch) -> None:
    from voicebot.speech.asr.select import configured_engine

    setting = "en=pocketsphinx>whisper, zh-CN=whisper"
    assert configured_engine("en-US", setting) == "pocketsphinx>whisper"
    assert configured_engine("zh-CN", setting) == "whisper"
    assert configured_engine("ko-KR", setting) is None
    assert configured_engine("ko-KR", "whisper") == "whisper"
    assert configured_engine("en-GB", "whisper,en=pocketsphinx") == "pocketsphinx"
    with pytest.raises(ValueError, match=r"VOICEBOT_ASR_ENGINE: 'en=sphinx'"):
        configured_engine("en-US", "en=sphinx")
    monkeypatch.setenv("VOICEBOT_ASR_ENGINE", "en=pocketsphinx>whisper")
    assert isinstance(recognizer_for("en-US"), ChainRecognizer)
