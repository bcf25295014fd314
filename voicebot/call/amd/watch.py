"""Answering-machine detection wired to a live call: fed with every inbound frame, it wakes the
call session when a machine answered and, later, when its beep has ended."""

from __future__ import annotations

import asyncio
import contextlib

from voicebot.audio import Pcm
from voicebot.call.amd.detector import AmdResult, AmdVerdict, AnsweringMachineDetector


class MachineWatch:
    """Feeds answering-machine detection and tells the session when a machine answered."""

    def __init__(self, detector: AnsweringMachineDetector | None) -> None:
        self.detector = detector
        self.result: AmdResult | None = None
        self._machine = asyncio.Event()
        self._final = asyncio.Event()

    def feed(self, frame: Pcm) -> None:
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

    async def wait(self) -> None:
        """Return once a machine has been detected (never, for a human)."""
        await self._machine.wait()

    async def wait_final(self, timeout: float) -> AmdResult | None:
        """The final verdict (after the beep), or the latest one after ``timeout``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._final.wait(), timeout)
        return self.result
