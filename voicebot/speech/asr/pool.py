"""Speech recognition on every core: a pool of recognizer worker processes.

One process's interpreter cannot decode many calls at once (the GIL), and a decoder that runs
in the process carrying the calls' media stalls all of them. So a :class:`RecognizerPool`
starts worker processes (default: one per core), each loading the locale's model once
(:mod:`voicebot.speech.asr.worker`). Each utterance goes to the least busy worker while the
caller speaks; partial words come back as they firm up and the final words right after the end
of speech. Talking to the workers never blocks the event loop (asyncio pipes).

A worker that dies or stops answering (no reply to a ping for ``hang_s``) is killed and
replaced. The utterances it held are decoded again on another worker from the audio the pool
kept, so usually nothing is lost; if that fails too, the utterance is reported lost
(:class:`~voicebot.speech.asr.stream.UtteranceLost`), and the call goes on (keys are heard by
the call itself, never by a worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from voicebot.audio import Pcm
from voicebot.speech.asr.base import AsrError
from voicebot.speech.asr.stream import PartialCallback, UtteranceLost, UtteranceStream
from voicebot.speech.asr.worker import encode, read_async

log = structlog.get_logger(__name__)

START_TIMEOUT_S = 120.0
"""Loading a model on a busy machine can take a while; longer than this is a failure."""
PING_EVERY_S = 0.5
MAX_ATTEMPTS = 2
"""Workers an utterance is tried on before it is reported lost."""


@dataclass
class PoolStats:
    """What happened to the pool's workers and utterances (for logs and benchmarks)."""

    workers_started: int = 0
    workers_replaced: int = 0
    utterances: int = 0
    redecoded: int = 0
    lost: int = 0


class _Worker:
    """One worker process and the pipe to it."""

    def __init__(self, pool: RecognizerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.pid = 0
        self.active: dict[int, PooledUtterance] = {}
        self.ready = False
        self.last_pong = time.monotonic()
        self.cpu_seconds = 0.0
        self._reader: asyncio.Task[None] | None = None
        self._ping = 0

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voicebot.speech.asr.worker",
            json.dumps(self.pool.config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        self.pid = self.process.pid
        assert self.process.stdout is not None
        try:
            first = await asyncio.wait_for(read_async(self.process.stdout), START_TIMEOUT_S)
        except TimeoutError:
            first = None
        if first is None or first[0] != "ready":
            self.kill()
            await self.process.wait()
            raise AsrError(
                f"recognizer worker {self.pid} did not start (exit {self.process.returncode}); "
                "see its error output above"
            )
        self.ready = True
        self.last_pong = time.monotonic()
        self._reader = asyncio.create_task(self._read_loop(), name=f"asr-worker-{self.index}")

    def send(self, message: tuple[Any, ...]) -> None:
        """Queue a message to the worker (asyncio buffers it: never blocks)."""
        if self.process is None or self.process.stdin is None or not self.ready:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            self.process.stdin.write(encode(message))

    def ping(self) -> None:
        self._ping += 1
        self.send(("ping", self._ping))

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    def read_cpu(self) -> float:
        """CPU seconds used so far (the last reading once the process is gone)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            self.cpu_seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return self.cpu_seconds

    async def _read_loop(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while (message := await read_async(self.process.stdout)) is not None:
            kind = message[0]
            if kind == "pong":
                self.last_pong = time.monotonic()
                continue
            utterance = self.active.get(message[1])
            if utterance is None:
                continue
            if kind == "partial":
                utterance.heard_partial(message[2])
            elif kind == "final":
                del self.active[message[1]]
                utterance.resolve(message[2], decode_ms=message[3])
            elif kind == "error":
                del self.active[message[1]]
                utterance.fail(f"recognizer worker {self.pid}: {message[2]}")
        self.ready = False
        self.read_cpu()
        self.kill()
        await self.process.wait()
        if not self.pool.closing:
            self.pool.worker_lost(self, f"exited with code {self.process.returncode}")

    async def stop(self) -> None:
        self.ready = False
        if self.process is None:
            return
        self.read_cpu()
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 2.0)
        except TimeoutError:
            self.kill()
            await self.process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


class PooledUtterance(UtteranceStream):
    """An utterance decoded by a pool worker; its audio is kept until the words are back."""

    def __init__(
        self,
        pool: RecognizerPool,
        uid: int,
        on_partial: PartialCallback | None,
        phrases: Sequence[str] | None = None,
    ):
        self.pool = pool
        self.uid = uid
        self.on_partial = on_partial
        self.phrases = list(phrases) if phrases is not None else None
        self.frames: list[bytes] = []
        self.ended = False
        self.attempts = 0
        self.worker: _Worker | None = None
        self.notes: list[str] = []
        """What happened on the way (a worker lost and the words decoded again)."""
        self.decode_ms: float | None = None
        self._result: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        # A call that hung up never asks for its last words: that is no error worth a warning.
        self._result.add_done_callback(lambda f: f.cancelled() or f.exception())

    def assign(self, worker: _Worker) -> None:
        """Send the whole utterance so far to ``worker``, then stream the rest to it."""
        self.worker = worker
        self.attempts += 1
        worker.active[self.uid] = self
        worker.send(("open", self.uid, self.phrases))
        for frame in self.frames:
            worker.send(("audio", self.uid, frame))
        if self.ended:
            worker.send(("end", self.uid))

    def feed(self, frame: Pcm) -> None:
        data = frame.tobytes()
        self.frames.append(data)
        if self.worker is not None:
            self.worker.send(("audio", self.uid, data))

    def end(self) -> None:
        self.ended = True
        if self.worker is not None:
            self.worker.send(("end", self.uid))

    async def text(self) -> str:
        return await asyncio.shield(self._result)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.active.pop(self.uid, None)
            self.worker.send(("drop", self.uid))
        self.pool.forget(self)
        if not self._result.done():
            self._result.cancel()

    def heard_partial(self, text: str) -> None:
        if self.on_partial is not None and not self._result.done():
            self.on_partial(text)

    def resolve(self, text: str, decode_ms: float) -> None:
        self.decode_ms = decode_ms
        self.pool.forget(self)
        if not self._result.done():
            self._result.set_result(text)

    def fail(self, reason: str) -> None:
        self.pool.forget(self)
        if not self._result.done():
            self._result.set_exception(UtteranceLost(reason))


class RecognizerPool:
    """Recognizer worker processes for one locale, shared by every call of this process.

    Args:
        locale: the flows' locale (the model is chosen as :func:`recognizer_for` does).
        model: a vosk model name or path; default: the one installed for the locale.
        models_directory: where pulled models are.
        workers: how many processes; default: one per core.
        decoders_per_worker: simultaneous utterances each worker is ready for at start (it
            loads more when needed, but loading one stalls that worker's other utterances for
            half a second or more; a pocketsphinx decoder takes about 90 MB).
        hang_s: a worker that answers no ping for this long, while it holds utterances, is
            killed and replaced. A worker starved of CPU answers late, not never: keep this
            well above the worst lag of a busy machine.
    """

    def __init__(
        self,
        locale: str,
        model: str | None = None,
        models_directory: Path | None = None,
        *,
        workers: int | None = None,
        decoders_per_worker: int = 4,
        hang_s: float = 10.0,
    ) -> None:
        count = workers if workers is not None else (os.cpu_count() or 1)
        if count < 1:
            raise ValueError(f"workers: expected at least 1, got {count}")
        if decoders_per_worker < 1:
            raise ValueError(f"decoders_per_worker: expected at least 1, got {decoders_per_worker}")
        if hang_s <= PING_EVERY_S:
            raise ValueError(f"hang_s: expected more than {PING_EVERY_S}, got {hang_s}")
        self.locale = locale
        self.size = count
        self.hang_s = hang_s
        self.config: dict[str, Any] = {
            "locale": locale,
            "model": model,
            "models_directory": str(models_directory) if models_directory else None,
            "decoders": decoders_per_worker,
        }
        self.stats = PoolStats()
        self.closing = False
        self._workers: list[_Worker] = []
        self._gone_cpu = 0.0
        self._waiting: list[PooledUtterance] = []
        self._ids = itertools.count(1)
        self._watchdog: asyncio.Task[None] | None = None
        self._starting: set[asyncio.Task[None]] = set()

    async def start(self) -> RecognizerPool:
        """Start the workers and wait until each has loaded its model.

        Raises:
            AsrError: a worker could not start (no model for the locale, engine missing).
        """
        workers = [_Worker(self, i) for i in range(self.size)]
        results = await asyncio.gather(*(w.start() for w in workers), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        self._workers = [w for w, r in zip(workers, results, strict=True) if r is None]
        if failed:
            await self.close()
            raise failed[0]
        self.stats.workers_started += len(workers)
        self._watchdog = asyncio.create_task(self._watch(), name="asr-pool-watchdog")
        log.info("asr_pool_started", locale=self.locale, workers=self.pids())
        return self

    async def __aenter__(self) -> RecognizerPool:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def pids(self) -> list[int]:
        """The worker processes' ids (live ones)."""
        return [w.pid for w in self._workers if w.ready]

    def busy(self) -> list[int]:
        """How many utterances each live worker holds."""
        return [len(w.active) for w in self._workers if w.ready]

    def cpu_seconds(self) -> float:
        """CPU used by every worker so far, replaced ones included."""
        return self._gone_cpu + sum(w.read_cpu() for w in self._workers)

    def open_utterance(
        self, on_partial: PartialCallback | None = None, phrases: Sequence[str] | None = None
    ) -> UtteranceStream:
        """Start hearing one utterance on the least busy worker; ``phrases`` restrict what
        may be heard (see :meth:`Recognizer.session`; a worker that finds none usable reports
        the utterance lost)."""
        if self.closing:
            raise AsrError("the recognizer pool is closed")
        utterance = PooledUtterance(self, next(self._ids), on_partial, phrases)
        self.stats.utterances += 1
        worker = self._least_busy()
        if worker is None:  # every worker is being replaced: the audio waits in the pool
            self._waiting.append(utterance)
        else:
            utterance.assign(worker)
        return utterance

    def forget(self, utterance: PooledUtterance) -> None:
        """The utterance is done (or dropped): stop tracking it."""
        if utterance in self._waiting:
            self._waiting.remove(utterance)

    def _least_busy(self) -> _Worker | None:
        ready = [w for w in self._workers if w.ready]
        return min(ready, key=lambda w: len(w.active)) if ready else None

    def worker_lost(self, worker: _Worker, reason: str) -> None:
        """A worker died: decode its utterances again elsewhere, and start a replacement."""
        if worker in self._workers:
            self._workers.remove(worker)
        self._gone_cpu += worker.cpu_seconds
        orphans = list(worker.active.values())
        worker.active.clear()
        redecoded, lost = 0, 0
        for utterance in orphans:
            if utterance.attempts >= MAX_ATTEMPTS:
                lost += 1
                utterance.fail(
                    f"recognizer worker {worker.pid} {reason}; the utterance "
                    f"({len(utterance.frames) * 20} ms of audio) was lost after "
                    f"{utterance.attempts} workers"
                )
                continue
            redecoded += 1
            utterance.notes.append(f"recognizer worker {worker.pid} {reason}; decoded again")
            other = self._least_busy()
            if other is None:
                self._waiting.append(utterance)
            else:
                utterance.assign(other)
        self.stats.redecoded += redecoded
        self.stats.lost += lost
        log.warning(
            "asr_worker_lost",
            pid=worker.pid,
            reason=reason,
            utterances_redecoded=redecoded,
            utterances_lost=lost,
        )
        replacement = _Worker(self, worker.index)
        task = asyncio.create_task(self._replace(replacement))
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _replace(self, worker: _Worker) -> None:
        try:
            await worker.start()
        except AsrError:
            log.exception("asr_worker_restart_failed")
            return
        if self.closing:
            await worker.stop()
            return
        self._workers.append(worker)
        self.stats.workers_replaced += 1
        log.info("asr_worker_replaced", pid=worker.pid)
        waiting, self._waiting = self._waiting, []
        for utterance in waiting:
            utterance.assign(worker)

    async def _watch(self) -> None:
        """Ping the workers; kill one that holds utterances and stopped answering."""
        while not self.closing:
            before = time.monotonic()
            await asyncio.sleep(PING_EVERY_S)
            now = time.monotonic()
            if now - before > 2 * PING_EVERY_S:  # this loop was stalled, not the workers
                for worker in self._workers:
                    worker.last_pong = now
            silent = [w for w in self._workers if w.ready and now - w.last_pong > self.hang_s]
            if any(w.active for w in silent):
                await asyncio.sleep(0.05)  # let replies already in the pipes be read first
                now = time.monotonic()
            for worker in list(self._workers):
                if not worker.ready:
                    continue
                if worker.active and now - worker.last_pong > self.hang_s:
                    log.warning("asr_worker_hung", pid=worker.pid, silent_s=now - worker.last_pong)
                    worker.kill()  # its reader sees the end and reports it lost
                    continue
                if not worker.active:
                    worker.last_pong = max(worker.last_pong, now - PING_EVERY_S)
                worker.ping()

    async def close(self) -> None:
        """Stop every worker (utterances still open are reported lost)."""
        self.closing = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        for task in list(self._starting):
            with contextlib.suppress(Exception):
                await task
        for worker in self._workers:
            for utterance in list(worker.active.values()):
                utterance.fail("the recognizer pool closed")
        for utterance in self._waiting:
            utterance.fail("the recognizer pool closed")
        await asyncio.gather(*(w.stop() for w in self._workers))
        self._gone_cpu += sum(w.cpu_seconds for w in self._workers)
        self._workers = []


def parse_workers(value: str | None) -> int | None:
    """``--asr-workers`` / configuration: "auto" (one per core) or a count."""
    if value is None or value == "auto":
        return None
    try:
        count = int(value)
    except ValueError:
        expected = "expected 'auto' or a number"
        raise ValueError(f"recognizer workers: {expected}, got {value!r}") from None
    if count < 1:
        raise ValueError(f"recognizer workers: expected at least 1, got {count}")
    return count


__all__: Sequence[str] = ["PoolStats", "PooledUtterance", "RecognizerPool", "parse_workers"]
