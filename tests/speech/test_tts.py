"""The TTS base, cache and engine choice, without network: the edge probe stays on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import FakeSynthesizer
from voicebot.audio import SAMPLE_RATE
from voicebot.speech.tts import (
    NotPreRendered,
    TtsCache,
    TtsError,
    choose_engine,
    engine_setting,
    make_synthesizer,
    synthesizer_for,
)
from voicebot.speech.tts import piper as piper_module
from voicebot.speech.tts.cache import cache_key
from voicebot.speech.tts.edge import PROBE_ENV, forget_probes
from voicebot.speech.tts.fallback import FallbackSynthesizer


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Never probe a public host: point the edge probe at a closed local port."""
    monkeypatch.setenv(PROBE_ENV, f"127.0.0.1:{closed_port()}")
    monkeypatch.delenv("VOICEBOT_TTS", raising=False)
    forget_probes()
    yield
    forget_probes()


def test_cache_round_trip_and_keys(tmp_path: Path) -> None:
    cache = TtsCache(tmp_path)
    pcm = np.arange(-500, 500, dtype=np.int16)
    path = cache.put("espeak", "cmn", "您好", pcm)
    assert path.is_file()
    got = cache.get("espeak", "cmn", "您好")
    assert got is not None and got.dtype == np.int16
    assert np.array_equal(got, pcm)
    assert cache.get("espeak", "cmn", "您好!") is None
    assert cache.get("piper", "cmn", "您好") is None
    assert len({cache_key("a", "b", "c"), cache_key("a", "bc", ""), cache_key("ab", "c", "")}) == 3
    assert not list(tmp_path.rglob(".tmp-*"))


def test_cache_drops_a_damaged_entry(tmp_path: Path) -> None:
    cache = TtsCache(tmp_path)
    path = cache.put("espeak", "cmn", "x", np.zeros(10, dtype=np.int16))
    path.write_bytes(b"not a wav file")
    assert cache.get("espeak", "cmn", "x") is None
    assert not path.exists()


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOT_CACHE_DIR", str(tmp_path))
    assert TtsCache().directory == tmp_path / "tts"


async def test_render_resamples_caches_and_reuses(tmp_path: Path) -> None:
    synth = FakeSynthesizer(TtsCache(tmp_path))
    first = await synth.render("  hello  ")
    assert first.dtype == np.int16
    assert abs(len(first) - 5 * 1600 * SAMPLE_RATE // 16000) <= 2
    second = await synth.render("hello")
    assert np.array_equal(first, second)
    assert synth.calls == 1
    assert synth.cached("hello") is not None
    assert synth.cached("goodbye") is None


async def test_render_without_live_synthesis_needs_a_pre_rendered_prompt(tmp_path: Path) -> None:
    synth = FakeSynthesizer(TtsCache(tmp_path))
    with pytest.raises(NotPreRendered, match="voicebot prompts render"):
        await synth.render("disclosure text", live=False)
    assert synth.calls == 0
    await synth.render("disclosure text")
    assert len(await synth.render("disclosure text", live=False)) > 0
    assert synth.calls == 1


async def test_render_refuses_empty_text(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        await FakeSynthesizer(TtsCache(tmp_path)).render("   ")


async def test_a_cache_hit_never_loads_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(voice: str) -> None:
        raise AssertionError("the Piper model was loaded for a cached prompt")

    monkeypatch.setattr(piper_module, "load_voice", refuse)
    cache = TtsCache(tmp_path)
    synth = make_synthesizer("piper", "en-US", cache=cache)
    cache.put("piper", synth.voice, "Goodbye.", np.ones(800, dtype=np.int16))
    assert len(await synth.render("Goodbye.")) == 800


def test_engine_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert engine_setting() == "auto"
    monkeypatch.setenv("VOICEBOT_TTS", "Piper")
    assert engine_setting() == "piper"
    monkeypatch.setenv("VOICEBOT_TTS", "festival")
    with pytest.raises(ValueError, match="VOICEBOT_TTS='festival'"):
        engine_setting()
    with pytest.raises(ValueError, match="unknown TTS engine 'x'"):
        engine_setting("x")


async def test_auto_falls_back_offline_when_edge_is_unreachable() -> None:
    assert await choose_engine("en-US") == "piper"
    assert await choose_engine("zh-CN") == "espeak"
    assert await choose_engine("ko-KR") == "espeak"
    assert (await synthesizer_for("zh-CN")).voice == "cmn"


@pytest.fixture
async def local_listener(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """A TCP listener on 127.0.0.1 standing in for a reachable edge service."""

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv(PROBE_ENV, f"127.0.0.1:{port}")
    forget_probes()
    async with server:
        yield


@pytest.mark.usefixtures("local_listener")
async def test_auto_uses_edge_when_it_answers() -> None:
    assert await choose_engine("zh-CN") == "edge"
    synth = await synthesizer_for("zh-CN")
    assert isinstance(synth, FallbackSynthesizer)
    assert (synth.primary.engine, synth.primary.voice) == ("edge", "zh-CN-XiaoxiaoNeural")
    assert (synth.secondary.engine, synth.secondary.voice) == ("espeak", "cmn")
    forced = await synthesizer_for("zh-CN", "edge")
    assert (forced.engine, forced.voice) == ("edge", "zh-CN-XiaoxiaoNeural")
    # A locale without a known edge voice still gets an offline engine.
    assert await choose_engine("eo") == "espeak"
    # A forced engine wins over the probe.
    assert await choose_engine("zh-CN", "espeak") == "espeak"


def test_piper_is_refused_for_mandarin() -> None:
    with pytest.raises(TtsError, match="English voice only"):
        make_synthesizer("piper", "zh-CN")


def test_probe_target_must_be_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROBE_ENV, "localhost")
    with pytest.raises(ValueError, match="host:port"):
        asyncio.run(choose_engine("zh-CN"))


def test_prerendered_finds_a_rendering_by_any_engine_for_the_locale(tmp_path: Path) -> None:
    from voicebot.speech.tts import prerendered

    cache = TtsCache(tmp_path)
    assert prerendered("您好", "zh-CN", cache) is None
    cache.put("edge", "zh-CN-XiaoxiaoNeural", "您好", np.ones(160, dtype=np.int16))
    hit = prerendered(" 您好 ", "zh-CN", cache)
    assert hit is not None and len(hit) == 160
    cache.put("espeak", "cmn", "再见", np.ones(320, dtype=np.int16))
    hit = prerendered("再见", "zh-CN", cache)
    assert hit is not None and len(hit) == 320
