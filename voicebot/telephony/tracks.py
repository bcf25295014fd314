"""Audio in and out of an aiortc peer, in the engine's format (8 kHz int16, 20 ms frames).

:class:`OutboundTrack` is the bot's voice: aiortc pulls one frame every 20 ms of wall-clock time
from it. It plays queued prompts (interruptible or not), live frames from a bridged leg, or
silence, and sends nothing at all until it is opened (no bot audio before the call is answered).

:class:`InboundReader` turns the far end's track into 8 kHz mono 20 ms frames, whatever rate the
codec decodes at (G.711: 8 kHz; Opus: 48 kHz stereo), resampling only when it has to.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from voicebot.audio import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, Pcm

_FRAME_S = FRAME_MS / 1000
_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
_MAX_LAG_FRAMES = 5
"""How far behind real time the consumer may fall before the clock is reset instead of bursting."""
_LIVE_BACKLOG = 4
"""Live frames (80 ms) kept at most; older ones are dropped to keep bridged latency low."""


@dataclass(frozen=True, slots=True)
class PlayResult:
    """How a :meth:`OutboundTrack.play` ended.

    Attributes:
        played_ms: audio actually handed to the encoder, in milliseconds.
        completed: True if all of it played; False if barge-in, cancellation or hang-up cut it.
    """

    played_ms: float
    completed: bool


class _Playback:
    __slots__ = ("done", "interruptible", "pcm", "pos")

    def __init__(self, pcm: Pcm, interruptible: bool, done: asyncio.Future[PlayResult]) -> None:
        self.pcm = pcm
        self.interruptible = interruptible
        self.done = done
        self.pos = 0

    def finish(self, completed: bool) -> None:
        if not self.done.done():
            played = min(self.pos, len(self.pcm))
            self.done.set_result(PlayResult(1000.0 * played / SAMPLE_RATE, completed))


class OutboundTrack(MediaStreamTrack):
    """An audio track paced at 20 ms that plays 8 kHz int16 PCM.

    ``recv`` waits until :meth:`open` is called, so the RTP sender sends no packet before the
    call is answered. Afterwards every 20 ms it emits the next frame of the oldest queued
    playback, else the oldest live frame, else silence (keeps RTP flowing, which RFC 4733
    sending and the far end's jitter buffer rely on).
    """

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._opened = asyncio.Event()
        self._queue: collections.deque[_Playback] = collections.deque()
        self._live: collections.deque[Pcm] = collections.deque(maxlen=_LIVE_BACKLOG)
        self._start = 0.0
        self._sent = 0
        self._silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)

    @property
    def is_open(self) -> bool:
        """Whether frames flow (the call was answered)."""
        return self._opened.is_set()

    @property
    def playing(self) -> bool:
        """Whether a playback is queued or under way."""
        return bool(self._queue)

    def open(self) -> None:
        """Start sending: from now on one frame leaves every 20 ms."""
        self._opened.set()

    async def play(self, pcm: Pcm, interruptible: bool = True) -> PlayResult:
        """Queue ``pcm`` and wait until it has played, was interrupted or the track stopped.

        Cancelling the awaiting task stops this playback at once (the rest is dropped).

        Raises:
            ValueError: ``pcm`` is not a 1-D int16 array.
        """
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"pcm: expected 1-D int16 at 8 kHz, got {pcm.dtype} {pcm.shape}")
        done: asyncio.Future[PlayResult] = asyncio.get_running_loop().create_future()
        playback = _Playback(pcm, interruptible, done)
        if self.readyState == "ended":
            playback.finish(False)
            return done.result()
        self._queue.append(playback)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            self._drop(playback)
            raise

    def interrupt(self) -> None:
        """Barge-in: stop every interruptible playback now; non-interruptible ones go on."""
        for playback in [p for p in self._queue if p.interruptible]:
            self._drop(playback)

    def feed(self, frame: Pcm) -> None:
        """Queue one live 20 ms frame (from a bridged leg); the oldest is dropped if behind."""
        if self._opened.is_set() and self.readyState == "live":
            self._live.append(frame)

    def stop(self) -> None:
        """End the track: pending playbacks return as not completed."""
        for playback in list(self._queue):
            self._drop(playback)
        self._live.clear()
        super().stop()
        self._opened.set()  # wake a recv still waiting for the answer: it raises now

    async def recv(self) -> av.AudioFrame:
        """Called by aiortc's sender: the next 20 ms frame, on time."""
        if self.readyState != "live":
            raise MediaStreamError
        await self._opened.wait()
        now = time.monotonic()
        if self._sent == 0:
            self._start = now
        else:
            due = self._start + self._sent * _FRAME_S
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > _MAX_LAG_FRAMES * _FRAME_S:  # stalled: restart the clock
                self._start = now - self._sent * _FRAME_S
        if self.readyState != "live":
            raise MediaStreamError
        samples = self._next_samples()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._sent * FRAME_SAMPLES
        frame.time_base = _TIME_BASE
        self._sent += 1
        return frame

    def _next_samples(self) -> Pcm:
        if self._queue:
            playback = self._queue[0]
            chunk = playback.pcm[playback.pos : playback.pos + FRAME_SAMPLES]
            playback.pos += len(chunk)
            if playback.pos >= len(playback.pcm):
                self._queue.popleft()
                playback.finish(True)
            if len(chunk) < FRAME_SAMPLES:
                chunk = np.concatenate([chunk, self._silence[: FRAME_SAMPLES - len(chunk)]])
            return chunk
        if self._live:
            return self._live.popleft()
        return self._silence

    def _drop(self, playback: _Playback) -> None:
        if playback in self._queue:
            self._queue.remove(playback)
        playback.finish(False)


_DTMF_FREQS = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477),
}  # fmt: skip
"""ITU-T Q.23 row and column frequencies (Hz) of each key."""


def dtmf_tones(digits: str, tone_ms: int = 100, gap_ms: int = 60, level_dbfs: float = -9.0) -> Pcm:
    """In-band DTMF: each digit as its two Q.23 tones, separated by silence.

    For calls without RFC 4733 (Opus, browsers): any far end can detect these with Goertzel.
    Each tone sits ``level_dbfs`` below full scale (both together stay clear of clipping).

    Raises:
        ValueError: a character is not a DTMF key.
    """
    t = np.arange(SAMPLE_RATE * tone_ms // 1000) / SAMPLE_RATE
    amplitude = 32767 * 10 ** (level_dbfs / 20)
    gap = np.zeros(SAMPLE_RATE * gap_ms // 1000, dtype=np.int16)
    parts: list[Pcm] = []
    for digit in digits:
        if digit not in _DTMF_FREQS:
            raise ValueError(f"DTMF digit {digit!r}: expected one of 0-9, * or #")
        low, high = _DTMF_FREQS[digit]
        tone = amplitude * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t))
        parts += [np.round(tone).astype(np.int16), gap]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


class InboundReader:
    """Reads a remote aiortc audio track as 8 kHz mono int16 frames of 160 samples."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self._track = track
        self._resampler: av.AudioResampler | None = None
        self._pending = np.zeros(0, dtype=np.int16)

    async def frames(self) -> AsyncIterator[Pcm]:
        """Yield frames until the remote track ends (RTCP BYE, or the peer closed)."""
        while True:
            try:
                frame = await self._track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.AudioFrame):
                continue
            for pcm in self._convert(frame):
                yield pcm

    def _convert(self, frame: av.AudioFrame) -> list[Pcm]:
        if (
            frame.sample_rate == SAMPLE_RATE
            and frame.format.name == "s16"
            and frame.layout.name == "mono"
        ):
            samples: Pcm = np.asarray(frame.to_ndarray(), dtype=np.int16).reshape(-1)
        else:
            if self._resampler is None:
                self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            parts = [
                np.asarray(f.to_ndarray(), dtype=np.int16).reshape(-1)
                for f in self._resampler.resample(frame)
            ]
            samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        pending: Pcm = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        full = len(pending) // FRAME_SAMPLES
        out = [pending[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES].copy() for i in range(full)]
        self._pending = pending[full * FRAME_SAMPLES :].copy()
        return out
