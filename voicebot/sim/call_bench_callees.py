"""The bench's simulated callees in a process of their own, reached over real WebRTC.

``voicebot bench calls`` must measure the bot, not the bot plus its callees: so by default
the personas run in a child process (``python -m voicebot.sim.call_bench_callees``), and the bot
dials them through :class:`ProcessCalleeTransport`, which carries the SDP offer and answer,
the answer and the hang-ups over the child's stdin/stdout (framed messages, as a SIP
gateway would carry them); ICE, DTLS and SRTP run between the two processes on loopback.

The callees also measure what a caller experiences: from the last voiced frame a callee sent
to the first loud bot frame it received after it, separately for replies to words and to keys
(a key press's tones are recognised as such). Messages (``call_id`` is the bench's):

* to the callees: ``("dial", call_id, number, persona, offer_sdp, caller_id)``,
  ``("hangup", call_id)``
* from them: ``("ready", pid)``, ``("answer", call_id, sdp)``, ``("answered", call_id)``,
  ``("ended", call_id, replies)`` with ``replies`` a list of ``(kind, ms)``, ``("failed",
  call_id, reason)``
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.audio import FRAME_SAMPLES, SAMPLE_RATE, Pcm, frames, rms_dbfs
from voicebot.sim.personas.callee import SPEECH_DBFS, PersonaCallee
from voicebot.speech.asr.worker import encode, read_async
from voicebot.speech.dtmf import DtmfDetector
from voicebot.telephony.leg import HangupCause, Leg, Transport
from voicebot.telephony.peerleg import PeerLeg
from voicebot.telephony.rtc import RtcPeer, RtcSettings
from voicebot.telephony.tracks import OutboundTrack, PlayResult

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
ANSWER_TIMEOUT_S = 30.0


class _MeasuredLeg(PeerLeg):
    """A callee's leg that notes when its own voice (or key tone) ended."""

    def __init__(self, number: str, peer: RtcPeer, track: OutboundTrack) -> None:
        super().__init__(number, peer, track)
        self.waiting: tuple[str, float] | None = None
        """What the callee last did (``words`` or ``keys``) and when its sound ended."""
        self.replies: list[tuple[str, float]] = []

    async def play(self, pcm: Pcm, interruptible: bool = True) -> PlayResult:
        result = await super().play(pcm, interruptible)
        loud = [i for i, f in enumerate(frames(pcm)) if rms_dbfs(f) > SPEECH_DBFS]
        if loud:
            after_last = len(pcm) - (loud[-1] + 1) * FRAME_SAMPLES
            kind = "keys" if _is_keys(pcm) else "words"
            self.waiting = (kind, time.monotonic() - max(0, after_last) / SAMPLE_RATE)
        return result

    async def send_dtmf(self, digits: str) -> None:
        await super().send_dtmf(digits)
        self.waiting = ("keys", time.monotonic())

    async def measure(self) -> None:
        """Time the bot's first loud frame after each thing the callee did."""
        async for frame in self.audio():
            if self.waiting is not None and rms_dbfs(frame) > SPEECH_DBFS:
                kind, since = self.waiting
                self.waiting = None
                self.replies.append((kind, 1000 * (time.monotonic() - since)))


def _is_keys(pcm: Pcm) -> bool:
    detector = DtmfDetector()
    return any(detector.feed(frame) for frame in frames(pcm))


class _CalleeProcess:
    """The child side: answers dials with personas and reports each call's replies."""

    def __init__(self, writer: asyncio.WriteTransport) -> None:
        self._writer = writer
        self._calls: dict[int, asyncio.Task[None]] = {}
        self.directory: Any = None

    def send(self, message: tuple[Any, ...]) -> None:
        self._writer.write(encode(message))

    async def prepare(self) -> None:
        from voicebot.sim.personas.book import load_personas
        from voicebot.sim.personas.callee import PersonaDirectory
        from voicebot.speech.tts.select import synthesizer_for

        voice = await synthesizer_for("en-US")
        self.directory = PersonaDirectory(load_personas(), voice)
        for persona in self.directory.personas.values():
            for step in persona.script:
                if step.say:
                    await voice.render(step.say)

    def handle(self, message: tuple[Any, ...]) -> None:
        kind, call_id = message[0], message[1]
        if kind == "dial":
            task = asyncio.create_task(self._answer(call_id, *message[2:]))
            self._calls[call_id] = task
            task.add_done_callback(lambda _: self._calls.pop(call_id, None))
        elif kind == "hangup" and call_id in self._calls:
            self._calls[call_id].cancel()

    async def _answer(
        self, call_id: int, number: str, persona: str, offer: str, caller: str
    ) -> None:
        from voicebot.telephony.loopback import IncomingCall

        callee = PersonaCallee(persona, self.directory.personas[persona], self.directory.voice)
        ring = callee.ring(IncomingCall(number, caller))
        track = OutboundTrack()
        settings = RtcSettings()
        far = _MeasuredLeg(caller, RtcPeer(settings, track), track)
        measuring: asyncio.Task[None] | None = None
        try:
            answer = await far.peer.answer(offer)
            self.send(("answer", call_id, answer))
            far.start_media()
            await asyncio.sleep(ring.after)
            async with asyncio.timeout(settings.connect_timeout):
                await far.peer.connected()
            far.set_answered()
            self.send(("answered", call_id))
            measuring = asyncio.create_task(far.measure())
            await callee.talk(far)
        except asyncio.CancelledError:  # the bot hung up
            pass
        except Exception as exc:
            log.exception("simulated callee %s failed", persona)
            self.send(("failed", call_id, f"{type(exc).__name__}: {exc}"))
        finally:
            await far.end(HangupCause.REMOTE)
            if measuring is not None:
                measuring.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await measuring
            self.send(("ended", call_id, far.replies))


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = open(sys.stdout.fileno(), "wb", buffering=0, closefd=False)  # noqa: SIM115
    writer, _ = await loop.connect_write_pipe(asyncio.Protocol, out)
    process = _CalleeProcess(writer)
    await process.prepare()
    process.send(("ready", 0))
    while (message := await read_async(reader)) is not None:
        process.handle(message)


class ProcessCallees:
    """The bench's callee process, and the transport that dials into it.

    Use as a bench carrier: :meth:`prepare`, :meth:`transport_for` per call, :meth:`close`.
    """

    def __init__(self, personas: tuple[str, ...]) -> None:
        self.personas = personas
        self.process: asyncio.subprocess.Process | None = None
        self.transport = ProcessCalleeTransport(self)
        self.replies: list[tuple[str, float]] = []
        """(``words`` or ``keys``, ms) for every reply the callees heard so far."""
        self._assigned: dict[str, str] = {}
        self._pending: dict[int, _RemoteCall] = {}
        self._reader: asyncio.Task[None] | None = None

    async def prepare(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voicebot.sim.call_bench_callees",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        first = await asyncio.wait_for(read_async(self.process.stdout), START_TIMEOUT_S)
        if first is None or first[0] != "ready":
            raise RuntimeError("the simulated callees' process did not start; see its errors")
        self._reader = asyncio.create_task(self._read())

    def transport_for(self, number: str, index: int) -> Transport:
        self._assigned[number] = self.personas[index % len(self.personas)]
        return self.transport

    def persona_of(self, number: str) -> str:
        return self._assigned[number]

    def gateway_cpu_seconds(self) -> float | None:
        return None

    def callee_cpu_seconds(self) -> float | None:
        """CPU the callees' process has used so far."""
        if self.process is None:
            return None
        return _cpu_seconds(self.process.pid)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait (a little) until every call's report has come back from the callees."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def send(self, message: tuple[Any, ...]) -> None:
        if self.process is not None and self.process.stdin is not None:
            self.process.stdin.write(encode(message))

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while (message := await read_async(self.process.stdout)) is not None:
            call = self._pending.get(message[1])
            if call is not None:
                call.heard(message)
                if message[0] == "ended":
                    self.replies += message[2]
                    del self._pending[message[1]]
        for call in list(self._pending.values()):
            call.heard(("ended", 0, []))

    async def close(self) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


class _RemoteCall:
    """The bot's side of one call into the callee process."""

    def __init__(self, leg: PeerLeg) -> None:
        self.leg = leg
        self.answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.answered = asyncio.Event()
        self.ended = asyncio.Event()

    def heard(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "answer" and not self.answer.done():
            self.answer.set_result(message[2])
        elif kind == "answered":
            self.answered.set()
        elif kind == "failed":
            log.warning("simulated callee failed: %s", message[2])
        elif kind == "ended":
            if not self.answer.done():
                self.answer.set_exception(ConnectionError("the callee did not answer"))
            self.ended.set()

    async def run(self) -> None:
        leg = self.leg
        try:
            await self.answered.wait()
            await asyncio.wait_for(leg.peer.connected(), RtcSettings().connect_timeout)
            leg.set_answered()
            await self.ended.wait()
            await leg.end(HangupCause.REMOTE)
        except Exception as exc:
            log.warning("bench call broke: %s", exc)
            await leg.end(HangupCause.FAILED)


class ProcessCalleeTransport(Transport):
    """Dials the personas of a :class:`ProcessCallees` (over WebRTC on loopback)."""

    def __init__(self, callees: ProcessCallees) -> None:
        self.callees = callees
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    async def dial(self, number: str, caller_id: str, timeout: float) -> Leg:
        track = OutboundTrack()
        leg = PeerLeg(number, RtcPeer(RtcSettings(), track), track)
        offer = await leg.peer.offer()
        call_id = next(self._ids)
        call = _RemoteCall(leg)
        self.callees._pending[call_id] = call
        persona = self.callees.persona_of(number)
        self.callees.send(("dial", call_id, number, persona, offer, caller_id))
        try:
            answer = await asyncio.wait_for(call.answer, ANSWER_TIMEOUT_S)
            await leg.peer.accept(answer)
        except (TimeoutError, ConnectionError, ValueError) as exc:
            log.warning("bench call could not be set up: %s", exc)
            await leg.end(HangupCause.FAILED)
            return leg
        leg.start_media()
        leg.set_ringing()

        async def hang_up() -> None:
            self.callees.send(("hangup", call_id))

        leg.set_hangup_signal(hang_up)
        task = asyncio.create_task(call.run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return leg

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _cpu_seconds(pid: int) -> float | None:
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    """Entry point of the callee process."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    np.seterr(all="ignore")
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
