"""Integration: ten concurrent calls through one Janus on one account, with the CPU it costs.

Prints Janus's CPU per call and this process's (aiortc) CPU per call leg; asserts only that every
call connected, carried audio both ways and ended cleanly (timings are never asserted).
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable

import numpy as np
import pytest

from voicebot.audio import Pcm
from voicebot.sim.janus_lab import HOST, Janus, Sipp
from voicebot.telephony import Codec, HangupCause
from voicebot.telephony.janus import JanusConfig, JanusLeg, JanusTransport

pytestmark = [pytest.mark.integration, pytest.mark.janus, pytest.mark.timeout(90)]

CALLS = 10
WINDOW_S = 5.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _talk(leg: JanusLeg, seconds: float) -> float:
    """Play a tone for ``seconds`` while reading the echo; the echo's RMS."""
    frames: list[Pcm] = []

    async def read() -> None:
        async for frame in leg.audio():
            frames.append(frame)

    t = np.arange(int(8000 * seconds)) / 8000
    tone = np.round(6000 * np.sin(2 * np.pi * 600 * t)).astype(np.int16)
    reader = asyncio.create_task(read())
    await leg.play(tone)
    await asyncio.sleep(0.3)
    reader.cancel()
    samples = np.concatenate(frames[25:]).astype(np.float64) if len(frames) > 25 else np.zeros(1)
    return float(np.sqrt(np.mean(samples**2)))


async def test_ten_concurrent_calls_on_one_account(
    gateway: Janus,
    sipp: Callable[..., Sipp],
) -> None:
    far = sipp("uas_hold", 5091, "-rtp_echo", calls=CALLS)
    transport = JanusTransport(JanusConfig(url=gateway.url, host=HOST, codec=Codec.PCMA))
    uri = far.uri.format(number="+12025550150")
    try:
        legs = await asyncio.gather(
            *(
                transport.dial(f"+120255501{50 + i}", "+12025550123", 10, uri=uri)
                for i in range(CALLS)
            )
        )
        answered = await asyncio.gather(*(leg.wait_answered() for leg in legs))
        assert all(answered), [leg.reason for leg in legs]
        janus_before, ours_before, started = gateway.cpu_seconds(), _cpu(), time.monotonic()
        echoes = await asyncio.gather(*(_talk(leg, WINDOW_S) for leg in legs))
        elapsed = time.monotonic() - started
        janus_cpu, our_cpu = gateway.cpu_seconds() - janus_before, _cpu() - ours_before
        await asyncio.gather(*(leg.hangup() for leg in legs))
        causes = await asyncio.gather(*(leg.wait_ended() for leg in legs))
        assert far.wait() == 0, far.report()
    finally:
        await transport.close()
    assert all(cause is HangupCause.LOCAL for cause in causes)
    assert min(echoes) > 1000, echoes
    print(
        f"\n{CALLS} PCMA calls through Janus for {elapsed:.1f} s:"
        f" Janus {100 * janus_cpu / elapsed / CALLS:.2f} % of a core per call,"
        f" aiortc {100 * our_cpu / elapsed / CALLS:.2f} % of a core per call leg"
    )
