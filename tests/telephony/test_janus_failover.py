"""Integration: Janus dies mid-call. Its call ends ``failed``, a call on another Janus goes on, new
dials through the dead gateway fail at once with a reason instead of hanging, and once Janus is
back the same transport calls again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voicebot.audio import Pcm
from voicebot.sim.janus_lab import HOST, Janus, Namespace, Sipp
from voicebot.telephony import CallState, Codec, HangupCause
from voicebot.telephony.janus import JanusConfig, JanusLeg, JanusTransport

pytestmark = [pytest.mark.integration, pytest.mark.janus, pytest.mark.timeout(90)]

NUMBER = "+12025550143"
CALLER = "+12025550123"


def _transport(janus: Janus) -> JanusTransport:
    config = JanusConfig(url=janus.url, host=HOST, codec=Codec.PCMA)
    return JanusTransport(config)


async def _echo_rms(leg: JanusLeg, seconds: float = 1.0) -> float:
    frames: list[Pcm] = []

    async def read() -> None:
        async for frame in leg.audio():
            frames.append(frame)

    t = np.arange(int(8000 * seconds)) / 8000
    tone = np.round(8000 * np.sin(2 * np.pi * 700 * t)).astype(np.int16)
    reader = asyncio.create_task(read())
    await leg.play(tone)
    await asyncio.sleep(0.3)
    reader.cancel()
    samples = np.concatenate(frames).astype(np.float64) if frames else np.zeros(1)
    return float(np.sqrt(np.mean(samples**2)))


async def test_killed_gateway_fails_its_call_and_the_other_call_goes_on(
    namespace: Namespace,
    gateway: Janus,
    sipp: Callable[..., Sipp],
    tmp_path: Path,
) -> None:
    far = sipp("uas_hold", 5081, "-rtp_echo", calls=3)
    victim = Janus(namespace, tmp_path / "victim", http_port=8089, rtp_base=22000)
    doomed, survivor = _transport(victim), _transport(gateway)
    try:
        victim.start()
        uri = far.uri.format(number=NUMBER)
        lost = await doomed.dial(NUMBER, CALLER, 10, uri=uri)
        kept = await survivor.dial(NUMBER, CALLER, 10, uri=uri)
        assert await lost.wait_answered(), lost.reason
        assert await kept.wait_answered(), kept.reason

        victim.kill()
        assert await asyncio.wait_for(lost.wait_ended(), 15) is HangupCause.FAILED
        assert lost.reason is not None and "Janus" in lost.reason

        started = time.monotonic()
        again = await doomed.dial(NUMBER, CALLER, 10, uri=uri)
        assert again.state is CallState.ENDED and again.cause is HangupCause.FAILED
        assert again.reason is not None and "Janus at" in again.reason
        print(f"\ndial through a dead Janus failed after {time.monotonic() - started:.3f} s")

        assert kept.state is CallState.ANSWERED
        assert await _echo_rms(kept) > 1000, "the surviving call lost its audio"
        await kept.hangup()
        assert await kept.wait_ended() is HangupCause.LOCAL

        victim.start()  # back up: the next dial opens a new session by itself
        revived = await doomed.dial(NUMBER, CALLER, 10, uri=uri)
        assert await revived.wait_answered(), revived.reason
        assert await _echo_rms(revived) > 1000
        await revived.hangup()
        assert await revived.wait_ended() is HangupCause.LOCAL
        # (SIPp's first call never gets its BYE: the dead Janus took it along; not waited for.)
    finally:
        await doomed.close()
        await survivor.close()
        victim.stop()
