"""The edge-tts engine end to end against a local stand-in for the service (127.0.0.1 only).

The real edge_tts client speaks its real protocol (speech.config, SSML, binary audio frames,
turn.end) to an aiohttp WebSocket server in the test, which answers with MP3 encoded here;
only the service's address is replaced. No public host is ever contacted.
"""

from __future__ import annotations

import io
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import av
import edge_tts.communicate
import numpy as np
import pytest
from aiohttp import web

from voicebot.audio import SAMPLE_RATE, Pcm, rms_dbfs
from voicebot.speech.tts import TtsCache, TtsError
from voicebot.speech.tts.edge import PROBE_ENV, EdgeSynthesizer, decode_mp3, forget_probes
from voicebot.speech.tts.espeak import EspeakSynthesizer
from voicebot.speech.tts.fallback import FallbackSynthesizer
from voicebot.speech.tts.select import choose_engine, synthesizer_for


def mp3_24k(pcm: Pcm, rate: int = SAMPLE_RATE) -> bytes:
    """Encode speech as edge-tts delivers it: 24 kHz mono MP3 at 48 kbit/s."""
    up = av.AudioResampler(format="s16", layout="mono", rate=24000)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=24000, layout="mono")
        stream.bit_rate = 48000
        for chunk in [*up.resample(frame), *up.resample(None)]:
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


class FakeEdgeService:
    """Answers each synthesis request with the MP3 it was given, in 4 kB audio frames."""

    def __init__(self, mp3: bytes) -> None:
        self.mp3 = mp3
        self.requests: list[str] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            self.requests.append(message.data)
            if "Path:ssml" not in message.data:
                continue  # speech.config
            await ws.send_str(_text_message("turn.start", "{}"))
            header = b"X-RequestId:test\r\nContent-Type:audio/mpeg\r\nPath:audio\r\n"
            for start in range(0, len(self.mp3), 4096):
                chunk = self.mp3[start : start + 4096]
                await ws.send_bytes(len(header).to_bytes(2, "big") + header + chunk)
            await ws.send_str(_text_message("turn.end", "{}"))
        return ws


def _text_message(path: str, body: str) -> str:
    return f"X-RequestId:test\r\nContent-Type:application/json\r\nPath:{path}\r\n\r\n{body}"


@pytest.fixture
async def spoken_mp3(tmp_path: Path) -> bytes:
    speech = await EspeakSynthesizer("en-us", cache=TtsCache(tmp_path / "e")).render("one two")
    return mp3_24k(speech)


@pytest.fixture
async def service(
    spoken_mp3: bytes, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeEdgeService]:
    fake = FakeEdgeService(spoken_mp3)
    app = web.Application()
    app.router.add_get("/edge/v1", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.port = port
    monkeypatch.setattr(
        edge_tts.communicate, "WSS_URL", f"ws://127.0.0.1:{port}/edge/v1?TrustedClientToken=t"
    )
    yield fake
    await runner.cleanup()


async def test_edge_renders_through_the_real_client(
    service: FakeEdgeService, spoken_mp3: bytes, tmp_path: Path
) -> None:
    synth = EdgeSynthesizer("zh-CN-XiaoxiaoNeural", cache=TtsCache(tmp_path))
    pcm = await synth.render("您好，这里是示例银行。")
    expected = decode_mp3(spoken_mp3)
    assert abs(len(pcm) - len(expected.samples) * SAMPLE_RATE / expected.sample_rate) < 50
    assert rms_dbfs(pcm) > -35
    ssml = next(r for r in service.requests if "Path:ssml" in r)
    assert "(zh-CN, XiaoxiaoNeural)" in ssml
    assert "您好，这里是示例银行。" in ssml
    # Cached: a second render does not reach the service.
    count = len(service.requests)
    assert np.array_equal(await synth.render("您好，这里是示例银行。"), pcm)
    assert len(service.requests) == count


async def test_edge_failure_is_a_tts_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(edge_tts.communicate, "WSS_URL", f"ws://127.0.0.1:{port}/edge/v1?x=1")
    with pytest.raises(TtsError, match="edge-tts failed"):
        await EdgeSynthesizer(cache=TtsCache(tmp_path)).render("hello")


async def test_mp3_decoding_keeps_length_and_level(spoken_mp3: bytes) -> None:
    raw = decode_mp3(spoken_mp3)
    assert raw.sample_rate == 24000
    pcm = np.asarray(raw.samples, dtype=np.int16)
    assert 0.3 < len(pcm) / raw.sample_rate < 3.0
    assert rms_dbfs(pcm) > -35


def test_undecodable_audio_is_a_clear_error() -> None:
    with pytest.raises(TtsError, match="does not decode as MP3"):
        decode_mp3(b"<html>captive portal</html>")


async def test_auto_falls_back_offline_when_edge_fails_after_the_probe(
    service: FakeEdgeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The probe reaches the local service, but its synthesis endpoint is gone (HTTP 404).
    monkeypatch.setenv(PROBE_ENV, f"127.0.0.1:{service.port}")
    monkeypatch.delenv("VOICEBOT_TTS", raising=False)
    monkeypatch.setattr(edge_tts.communicate, "WSS_URL", f"ws://127.0.0.1:{service.port}/gone?x=1")
    forget_probes()
    try:
        synth = await synthesizer_for("zh-CN", cache=TtsCache(tmp_path))
        assert isinstance(synth, FallbackSynthesizer)
        pcm = await synth.render("您好")
        assert rms_dbfs(pcm) > -35
        assert synth.secondary.cached("您好") is not None  # espeak-ng spoke it
        assert synth.cached("您好") is not None
        assert await choose_engine("zh-CN") == "espeak"  # edge marked unreachable
    finally:
        forget_probes()
