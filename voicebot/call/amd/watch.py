"""Answering-machine detection wired to a live call: fed with every inbound frame, it wakes the
call session when a machine answered and, later, when its beep has ended.

Why the clock: the detector's time advances with the audio it is fed, but a far end that sends
no packets at all (a gateway suppressing silence, a machine that stops after its greeting)
feeds nothing, and the silence rules would never fire: the bot would wait in dead air until
the last timeout. So while the session waits, time without packets is fed as digital silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from voicebot.audio import FRAME_MS, SAMPLE_RATE, Pcm, silence
from voicebot.call.amd.detector import AmdResult, AmdVerdict, AnsweringMachineDetector

GAP_MS = 200.0
"""Packets missing for longer than this count as silence (well above network jitter)."""

TICK_S = 0.05
"""How often a waiting session looks for a gap in the packets."""


class MachineWatch:
    """Feeds answering-machine detection and tells the session when a machine answered."""

    def __init__(
        self,
        detector: AnsweringMachineDetector | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.detector = detector
        self.result: AmdResult | None = None
        self._clock = clock
        self._started: float | None = None
        self._fed_ms = 0.0
        self._machine = asyncio.Event()
        self._final = asyncio.Event()

    def start(self) -> None:
        """Mark the answer: from now on, time without packets is silence."""
        if self._started is None:
            self._started = self._clock()

    def feed(self, frame: Pcm) -> None:
        self.start()
        self._fed_ms += 1000 * len(frame) / SAMPLE_RATE
        self._analyse(frame)

    def fill_gap(self) -> None:
        """Feed silence for the time no packet arrived, once the gap exceeds :data:`GAP_MS`."""
        if self._started is None or self.detector is None or self._final.is_set():
            return
        gap = 1000 * (self._clock() - self._started) - self._fed_ms
        if gap < GAP_MS:
            return
        frames = int(gap // FRAME_MS)
        self._fed_ms += frames * FRAME_MS
        self._analyse(silence(frames * FRAME_MS))

    def _analyse(self, frame: Pcm) -> None:
        if self.detector is None or self._final.is_set():
            return
        result = self.detector.feed(frame)
        if result is None:
            return
        self.result = result
        if result.verdict is AmdVerdict.MACHINE:
            self._machine.set()
        if result.final:
            self._final.set()

    async def _wait(self, event: asyncio.Event) -> None:
        self.start()
        while not event.is_set():
            self.fill_gap()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), TICK_S)

    async def wait(self) -> None:
        """Return once a machine has been detected (never, for a human)."""
        await self._wait(self._machine)

    async def wait_final(self, timeout: float) -> AmdResult | None:
        """The final verdict (after the beep), or the latest one after ``timeout``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wait(self._final), timeout)
        return self.result
