"""Online neural speech through edge-tts, used only when its service answers.

The service is a public host, so voicebot first makes a quick, bounded TCP probe (cached
for a few minutes) and falls back to Piper or espeak-ng when it fails. The probe target is
configurable (``VOICEBOT_EDGE_PROBE=host:port``) so tests prove both branches on 127.0.0.1.
edge-tts returns MP3 at 24 kHz; PyAV decodes it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import time

import numpy as np

from voicebot.speech.tts.base import EngineUnavailable, RawAudio, Synthesizer, TtsError
from voicebot.speech.tts.cache import TtsCache

INSTALL_HINT = "pip install 'voicebot[edge-tts]'"
PROBE_ENV = "VOICEBOT_EDGE_PROBE"
DEFAULT_PROBE = ("speech.platform.bing.com", 443)
PROBE_TIMEOUT_S = 1.5
PROBE_TTL_S = 300.0

VOICE_BY_LOCALE = {
    "zh-CN": "zh-CN-XiaoxiaoNeural",
    "zh-TW": "zh-TW-HsiaoChenNeural",
    "zh-HK": "zh-HK-HiuMaanNeural",
    "en-US": "en-US-AriaNeural",
    "en-GB": "en-GB-SoniaNeural",
    "ko-KR": "ko-KR-SunHiNeural",
    "ja-JP": "ja-JP-NanamiNeural",
    "de-DE": "de-DE-KatjaNeural",
    "fr-FR": "fr-FR-DeniseNeural",
    "es-ES": "es-ES-ElviraNeural",
}
"""Default neural voices; any other voice name edge-tts knows may be configured."""

_probe_results: dict[tuple[str, int], tuple[float, bool]] = {}


def edge_voice_for(locale: str) -> str | None:
    """The default edge voice for a locale, or None when voicebot has none on file."""
    return VOICE_BY_LOCALE.get(locale)


def probe_target() -> tuple[str, int]:
    """Where to probe: ``$VOICEBOT_EDGE_PROBE`` (host:port) or the edge-tts service.

    Raises:
        ValueError: the variable is set but not ``host:port``.
    """
    configured = os.environ.get(PROBE_ENV)
    if not configured:
        return DEFAULT_PROBE
    host, sep, port = configured.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{PROBE_ENV}={configured!r}: expected host:port, e.g. 127.0.0.1:8443")
    return host, int(port)


def edge_installed() -> bool:
    """Whether the ``edge-tts`` extra is installed: ``auto`` never picks an engine it lacks."""
    return importlib.util.find_spec("edge_tts") is not None


async def edge_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the edge-tts service accepts a TCP connection; cached for five minutes."""
    target = probe_target()
    now = time.monotonic()
    cached = _probe_results.get(target)
    if cached is not None and now - cached[0] < PROBE_TTL_S:
        return cached[1]
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(*target), timeout)
    except (OSError, TimeoutError):
        reachable = False
    else:
        writer.close()
        reachable = True
    _probe_results[target] = (now, reachable)
    return reachable


def mark_unreachable() -> None:
    """Record that the service failed: ``auto`` chooses offline engines until the TTL ends."""
    _probe_results[probe_target()] = (time.monotonic(), False)


def forget_probes() -> None:
    """Drop cached probe results (after a network change, or between tests)."""
    _probe_results.clear()


def decode_mp3(data: bytes) -> RawAudio:
    """Decode an MP3 stream (what edge-tts returns) to mono int16 at its own rate.

    Raises:
        TtsError: the bytes are not decodable audio.
    """
    import av

    try:
        with av.open(io.BytesIO(data), mode="r", format="mp3") as container:
            stream = container.streams.audio[0]
            rate = int(stream.rate)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            parts = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(stream)
                for out in resampler.resample(frame)
            ]
            parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except (av.FFmpegError, IndexError) as exc:
        raise TtsError(f"edge-tts returned audio that does not decode as MP3: {exc}") from exc
    if not parts:
        raise TtsError("edge-tts returned no audio frames")
    return RawAudio(np.concatenate(parts).astype(np.int16), rate)


class EdgeSynthesizer(Synthesizer):
    """Neural TTS from the edge-tts service (network required)."""

    engine = "edge"

    def __init__(
        self, voice: str = VOICE_BY_LOCALE["en-US"], *, cache: TtsCache | None = None
    ) -> None:
        super().__init__(voice, cache=cache)

    async def _synthesize_impl(self, text: str, voice: str) -> RawAudio:
        try:
            import aiohttp
            import edge_tts
        except ImportError as exc:
            raise EngineUnavailable(f"edge-tts is not installed: {INSTALL_HINT}") from exc
        communicate = edge_tts.Communicate(text, voice)
        audio = bytearray()
        try:
            async for chunk in communicate.stream():
                if chunk.get("type") == "audio":
                    audio += chunk.get("data", b"")
        except (OSError, aiohttp.ClientError, edge_tts.exceptions.EdgeTTSException) as exc:
            raise TtsError(f"edge-tts failed for voice {voice!r}: {exc}") from exc
        return decode_mp3(bytes(audio))
