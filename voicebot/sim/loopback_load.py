"""What a live call costs: CPU and memory per loopback call pair, measured, not guessed.

Each call is two aiortc peers in this process (the bot's and a simulated callee's) with real ICE,
DTLS and SRTP on loopback, both talking all the time, both reading every inbound frame. The
figures size a worker (how many calls per core) and show whether media-path changes pay off;
compare them within one run on a shared machine. ``voicebot bench calls`` is meant to print them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import time
from dataclasses import dataclass

import numpy as np

from voicebot.audio import SAMPLE_RATE, Pcm
from voicebot.telephony.leg import Leg, LegStateError
from voicebot.telephony.loopback import (
    Callee,
    IncomingCall,
    LoopbackTransport,
    Ring,
    RingAction,
    StaticDirectory,
)
from voicebot.telephony.rtc import Codec, RtcSettings


@dataclass(frozen=True, slots=True)
class LoadFigures:
    """Cost of ``calls`` concurrent call pairs over ``seconds`` of talk time.

    Attributes:
        cpu_percent_per_pair: process CPU (all threads) per call pair, in % of one core.
        rss_mb_before: resident memory before dialling.
        rss_mb_per_pair: resident memory added per call pair while talking.
        frames_per_second: inbound frames read per second per leg (50 when nothing is lost).
    """

    calls: int
    seconds: float
    codec: Codec
    answered: int
    cpu_percent_per_pair: float
    rss_mb_before: float
    rss_mb_per_pair: float
    frames_per_second: float


def _tone(freq: float) -> Pcm:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    return (6000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the peak is the best we have
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Counter:
    def __init__(self) -> None:
        self.frames = 0

    async def talk_and_listen(self, leg: Leg, freq: float) -> None:
        """Play a tone without pause and read every inbound frame, like a conversation."""

        async def listen() -> None:
            async for _frame in leg.audio():
                self.frames += 1

        listening = asyncio.create_task(listen())
        try:
            tone = _tone(freq)
            with contextlib.suppress(LegStateError):  # the call ended between two plays
                while (await leg.play(tone)).completed:
                    pass
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening


class _Talker(Callee):
    def __init__(self, counter: _Counter) -> None:
        self._counter = counter

    def ring(self, call: IncomingCall) -> Ring:
        return Ring(RingAction.ANSWER)

    async def talk(self, leg: Leg) -> None:
        await self._counter.talk_and_listen(leg, 440)


async def measure_loopback(
    calls: int = 10, seconds: float = 20.0, codec: Codec = Codec.PCMU
) -> LoadFigures:
    """Run ``calls`` concurrent loopback calls for ``seconds`` and measure this process.

    Raises:
        ValueError: ``calls`` or ``seconds`` is not positive.
    """
    if calls < 1 or seconds <= 0:
        raise ValueError(f"calls {calls}, seconds {seconds}: expected at least 1 call and > 0 s")
    counter = _Counter()
    numbers = [f"+120255501{i:02d}" for i in range(calls)]
    directory = StaticDirectory({number: _Talker(counter) for number in numbers})
    transport = LoopbackTransport(directory, RtcSettings(codec=codec))
    rss_before = rss_mb()
    legs = await asyncio.gather(*(transport.dial(n, "+12025550199", 10) for n in numbers))
    answered = sum(await asyncio.gather(*(leg.wait_answered() for leg in legs)))
    talkers = [asyncio.create_task(counter.talk_and_listen(leg, 1000)) for leg in legs]
    await asyncio.sleep(1.0)  # let jitter buffers and encoders settle
    frames_start, cpu_start, wall_start = counter.frames, time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu = time.process_time() - cpu_start
    wall = time.monotonic() - wall_start
    frames = counter.frames - frames_start
    rss_during = rss_mb()
    for leg in legs:
        await leg.hangup()
    for task in talkers:
        task.cancel()
    for task in talkers:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await transport.close()
    return LoadFigures(
        calls=calls,
        seconds=wall,
        codec=codec,
        answered=answered,
        cpu_percent_per_pair=100.0 * cpu / wall / calls,
        rss_mb_before=rss_before,
        rss_mb_per_pair=(rss_during - rss_before) / calls,
        frames_per_second=frames / wall / (2 * calls),
    )
