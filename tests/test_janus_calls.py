"""Integration: calls from aiortc through a real Janus SIP gateway to SIPp, at the Leg level.

One Janus per module inside a network namespace the fixtures create (see tests/janus/harness.py);
each test starts the SIPp scenario that plays the far end and checks SIPp's verdict too (its exit
code is 0 only if every message it expected arrived, e.g. our CANCEL or BYE).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest

from janus.fixtures import gateway, namespace, sipp  # noqa: F401 - pytest fixtures
from janus.harness import HOST, Janus, Sipp
from voicebot.audio import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from voicebot.telephony import CallState, Codec, DtmfEvent, HangupCause
from voicebot.telephony.janus import JanusConfig, JanusLeg, JanusTransport

pytestmark = pytest.mark.integration

NUMBER = "+12025550142"
CALLER = "+12025550123"
StartSipp = Callable[..., Sipp]


def _transport(janus: Janus, codec: Codec = Codec.PCMA) -> JanusTransport:
    config = JanusConfig(url=janus.url, account="sip:voicebot@127.0.0.1", host=HOST, codec=codec)
    return JanusTransport(config)


def _rms(frames: list[Pcm]) -> float:
    if not frames:
        return 0.0
    samples = np.concatenate(frames).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


def _tone(seconds: float, hz: float = 1000.0) -> Pcm:
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return np.round(8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


async def _collect(leg: JanusLeg, seconds: float) -> list[Pcm]:
    frames: list[Pcm] = []

    async def read() -> None:
        async for frame in leg.audio():
            frames.append(frame)

    with_timeout = asyncio.create_task(read())
    await asyncio.sleep(seconds)
    with_timeout.cancel()
    return frames


async def test_answered_call_hears_speech_and_the_digit_9_three_ways(
    gateway: Janus,  # noqa: F811
    sipp: StartSipp,  # noqa: F811
) -> None:
    far = sipp("uas_talk", 5071)
    transport = _transport(gateway)
    try:
        digits: list[DtmfEvent] = []
        leg = await transport.dial(
            NUMBER, CALLER, 10, uri=far.uri.format(number=NUMBER),
            headers={"X-Voicebot-Campaign": "spring-test"},
        )  # fmt: skip
        assert await leg.wait_answered(), leg.reason
        assert leg.state is CallState.ANSWERED

        async def read_digits() -> None:
            async for event in leg.dtmf():
                digits.append(event)

        reader = asyncio.create_task(read_digits())
        speech = await _collect(leg, 1.5)
        await asyncio.sleep(3.5)
        reader.cancel()
        await leg.hangup()
        assert await leg.wait_ended() is HangupCause.LOCAL
        assert far.wait() == 0, far.report()
    finally:
        await transport.close()
    assert len(speech) * FRAME_SAMPLES >= SAMPLE_RATE  # at least 1 s of the far end's audio
    assert _rms(speech) > 300, "the far end's speech did not arrive"
    assert DtmfEvent("9", "rfc4733") in digits
    assert digits.count(DtmfEvent("9", "sip_info")) == 2, digits  # dtmf-relay and dtmf bodies
