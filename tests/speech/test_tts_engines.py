"""The real offline engines, Piper and espeak-ng, run here (edge-tts: test_tts_edge.py).

Whether the speech is *intelligible* is proven in test_asr*.py, where recognizers hear it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voicebot.audio import duration_ms, rms_dbfs
from voicebot.speech.tts import TtsCache, TtsError
from voicebot.speech.tts.espeak import EspeakSynthesizer, espeak_voice_for
from voicebot.speech.tts.piper import PiperSynthesizer, voice_files


def voiced(pcm: np.ndarray) -> float:
    """Share of 20 ms frames louder than -45 dBFS."""
    frames = pcm[: len(pcm) // 160 * 160].reshape(-1, 160)
    return float(np.mean([rms_dbfs(f) > -45 for f in frames]))


@pytest.mark.integration
async def test_piper_speaks_english(tmp_path: Path) -> None:
    synth = PiperSynthesizer(cache=TtsCache(tmp_path))
    pcm = await synth.render("Hello. This call is recorded.")
    assert pcm.dtype == np.int16
    assert 1200 < duration_ms(pcm) < 5000
    assert voiced(pcm) > 0.4
    assert rms_dbfs(pcm) > -30
    assert synth.cached("Hello. This call is recorded.") is not None


@pytest.mark.integration
async def test_piper_renders_the_same_text_identically(tmp_path: Path) -> None:
    text = "Press nine to stop our calls."
    first = await PiperSynthesizer(cache=TtsCache(tmp_path / "a")).render(text)
    second = await PiperSynthesizer(cache=TtsCache(tmp_path / "b")).render(text)
    assert np.array_equal(first, second)


def test_piper_names_what_it_expects_for_an_unknown_voice() -> None:
    with pytest.raises(TtsError, match="unknown Piper voice 'nl_NL-x'"):
        voice_files("nl_NL-x")


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("zh-CN", "您好，这里是示例银行信用卡中心，本次通话将被录音。"),
        ("en-US", "Press nine to stop our calls."),
        ("ko-KR", "네 좋아요"),
    ],
)
async def test_espeak_speaks_mandarin_english_and_korean(
    tmp_path: Path, locale: str, text: str
) -> None:
    synth = EspeakSynthesizer(espeak_voice_for(locale), cache=TtsCache(tmp_path))
    pcm = await synth.render(text)
    assert pcm.dtype == np.int16
    assert duration_ms(pcm) > 500
    assert voiced(pcm) > 0.4


async def test_espeak_voices_differ_by_language(tmp_path: Path) -> None:
    cache = TtsCache(tmp_path)
    mandarin = await EspeakSynthesizer("cmn", cache=cache).render("你好")
    english = await EspeakSynthesizer("en-us", cache=cache).render("你好")
    assert not np.array_equal(mandarin[: len(english)], english[: len(mandarin)])


async def test_espeak_reports_an_unknown_voice(tmp_path: Path) -> None:
    with pytest.raises(TtsError, match="no voice 'xx-nowhere'"):
        await EspeakSynthesizer("xx-nowhere", cache=TtsCache(tmp_path)).render("hello")


def test_espeak_voice_names() -> None:
    assert espeak_voice_for("zh-CN") == "cmn"
    assert espeak_voice_for("en-US") == "en-us"
    assert espeak_voice_for("ko-KR") == "ko"
    assert espeak_voice_for("pt-BR") == "pt-br"
    with pytest.raises(TtsError, match="no voice for tlh-QO"):
        espeak_voice_for("tlh-QO")
