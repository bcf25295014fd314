"""Answering-machine detection wired to a live call: fed with every inbound frame, it wakes the
call session when a machine answered and, later, when its beep has ended.

Why the clock: the detector's time advances with the audio it is fed, but a far end that sends
no packets at all (a gateway suppressing silence, a machine that stops after its greeting)
feeds nothing, and the silence rules would never fire: the bot would wait in dead air until
the last timeout. So while the session waits, time without packets is fed as digital silence.

Why from the last packet, and not the loop: only time in which the event loop ran and no packet
came is silence. Under load the loop stalls and packets queue behind it; counting the whole
stall as silence would cut a greeting in two ("Hi," ... stall ... "you've reached") and make
a machine look like a person who said "Hello?" and waited.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from voicebot.audio import FRAME_MS, Pcm, silence
from voicebot.call.amd.detector import AmdResult, AmdVerdict, AnsweringMachineDetector

GAP_MS = 200.0
"""Packets missing for longer than this count as silence (well above network jitter)."""

TICK_S = 0.05
"""How often a waiting session looks for a gap in the packets."""

STALL_S = 3 * TICK_S
"""A tick later than this after the previous one means the loop stalled: packets may be
queued behind it, so that time is not silence."""


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
        self._heard_at: float | None = None  # last packet, or the end of a loop stall
        self._filled_ms = 0.0  # silence fed since then
        self._last_tick: float | None = None
        self._machine = asyncio.Event()
        self._final = asyncio.Event()

    def start(self) -> None:
        """Mark the answer: from now on, time without packets is silence."""
        if self._started is None:
            self._started = self._heard_at = self._clock()

    def feed(self, frame: Pcm) -> None:
        self.start()
        self._heard_at = self._clock()
        self._filled_ms = 0.0
        self._analyse(frame)

    def fill_gap(self) -> None:
        """Feed silence for the time no packet arrived, once the gap exceeds :data:`GAP_MS`."""
        if self._heard_at is None or self.detector is None or self._final.is_set():
            return
        now = self._clock()
        stalled = self._last_tick is not None and now - self._last_tick > STALL_S
        self._last_tick = now
        if stalled:  # packets may be waiting behind the stall: give them a chance first
            self._heard_at, self._filled_ms = now, 0.0
            return
        gap = 1000 * (now - self._heard_at) - self._filled_ms
        if gap < GAP_MS:
            return
        frames = int(gap // FRAME_MS)
        self._filled_ms += frames * FRAME_MS
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
        self._last_tick = None  # the time before this wait is not a stall of its ticks
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
