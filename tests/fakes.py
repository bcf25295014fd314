"""Fakes of the engine's seams for unit tests: a :class:`FakeLeg` placed by a
:class:`FakeTransport`, a :class:`FakeRecognizer` and a :class:`FakeSynthesizer`.

Each implements the real interface (mypy checks it) and starts nothing real: no aiortc peer,
no speech model, no process. A test that needs the real part is an integration test (see
tests/conftest.py); a test of the logic around a part uses these.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import numpy as np

from voicebot.audio import Pcm
from voicebot.speech.asr.base import Recognizer, RecognizerSession, Transcript
from voicebot.speech.tts.base import RawAudio, Synthesizer
from voicebot.speech.tts.cache import TtsCache
from voicebot.telephony.leg import (
    CallState,
    DtmfEvent,
    HangupCause,
    Leg,
    LegStateError,
    Transport,
)
from voicebot.telephony.tracks import PlayResult

_MS_PER_SAMPLE = 1000 / 8000


class FakeLeg(Leg):
    """A call leg the test drives: :meth:`answer`, :meth:`speak`, :meth:`press` and
    :meth:`end` are the far end; :attr:`played`, :attr:`fed` and :attr:`sent` record what the
    engine did. Playback completes at once (``interrupt`` cuts nothing already done)."""

    def __init__(self, number: str = "+12025550100") -> None:
        self.number = number
        self._state = CallState.RINGING
        self._cause: HangupCause | None = None
        self._answered = asyncio.Event()
        self._ended = asyncio.Event()
        self._audio: list[asyncio.Queue[Pcm | None]] = []
        self._dtmf: list[asyncio.Queue[DtmfEvent | None]] = []
        self.played: list[tuple[Pcm, bool]] = []
        """Every ``play`` call: the audio and whether it was interruptible."""
        self.fed: list[Pcm] = []
        """Live frames sent to the far end (a bridged party's voice)."""
        self.sent: list[str] = []
        """Digits sent to the far end."""
        self.interrupts = 0

    # ---- the far end, driven by the test ---------------------------------------------------

    def answer(self) -> None:
        if self._state is CallState.RINGING:
            self._state = CallState.ANSWERED
            self._answered.set()

    def speak(self, *frames: Pcm) -> None:
        """The far end's audio, to every current ``audio()`` consumer."""
        for frame in frames:
            for queue in self._audio:
                queue.put_nowait(frame)

    def press(self, digit: str, source: str = "rfc4733") -> None:
        event = DtmfEvent(digit, source)
        for queue in self._dtmf:
            queue.put_nowait(event)

    def end(self, cause: HangupCause = HangupCause.REMOTE) -> None:
        """The leg ends (the far end hung up, or ``cause``); idempotent."""
        if self._state is CallState.ENDED:
            return
        self._state = CallState.ENDED
        self._cause = cause
        for frames in self._audio:
            frames.put_nowait(None)
        for digits in self._dtmf:
            digits.put_nowait(None)
        self._answered.set()
        self._ended.set()

    # ---- the Leg interface -----------------------------------------------------------------

    @property
    def state(self) -> CallState:
        return self._state

    @property
    def cause(self) -> HangupCause | None:
        return self._cause

    async def wait_answered(self) -> bool:
        await self._answered.wait()
        return self._state is CallState.ANSWERED

    async def wait_ended(self) -> HangupCause:
        await self._ended.wait()
        assert self._cause is not None
        return self._cause

    async def audio(self) -> AsyncIterator[Pcm]:
        queue: asyncio.Queue[Pcm | None] = asyncio.Queue()
        self._audio.append(queue)
        try:
            while self._state is not CallState.ENDED or not queue.empty():
                frame = await queue.get()
                if frame is None:
                    return
                yield frame
        finally:
            self._audio.remove(queue)

    async def dtmf(self) -> AsyncIterator[DtmfEvent]:
        queue: asyncio.Queue[DtmfEvent | None] = asyncio.Queue()
        self._dtmf.append(queue)
        try:
            while self._state is not CallState.ENDED or not queue.empty():
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            self._dtmf.remove(queue)

    async def play(self, pcm: Pcm, interruptible: bool = True) -> PlayResult:
        if self._state is not CallState.ANSWERED:
            raise LegStateError(f"cannot play on a leg that is {self._state}")
        self.played.append((pcm, interruptible))
        return PlayResult(played_ms=len(pcm) * _MS_PER_SAMPLE, completed=True)

    def interrupt(self) -> None:
        self.interrupts += 1

    def feed(self, frame: Pcm) -> None:
        if self._state is CallState.ANSWERED:
            self.fed.append(frame)

    async def send_dtmf(self, digits: str) -> None:
        if self._state is not CallState.ANSWERED:
            raise LegStateError(f"cannot send digits on a leg that is {self._state}")
        for digit in digits:
            DtmfEvent(digit, "rfc4733")  # the same check as a received digit
        self.sent.append(digits)

    async def hangup(self) -> None:
        self.end(HangupCause.LOCAL)


class FakeTransport(Transport):
    """Places :class:`FakeLeg` calls; ``answer`` says whether each rings into an answer.

    :attr:`dialled` holds ``(number, caller_id, timeout)`` per call and :attr:`legs` the legs,
    so the test can drive them."""

    def __init__(self, answer: Callable[[str], bool] = lambda number: True) -> None:
        self._answer = answer
        self.dialled: list[tuple[str, str, float]] = []
        self.legs: list[FakeLeg] = []
        self.closed = False

    async def dial(self, number: str, caller_id: str, timeout: float) -> Leg:
        self.dialled.append((number, caller_id, timeout))
        leg = FakeLeg(number)
        self.legs.append(leg)
        if self._answer(number):
            leg.answer()
        return leg

    async def close(self) -> None:
        self.closed = True


class _FakeSession(RecognizerSession):
    def __init__(self, words: str) -> None:
        super().__init__()
        self._words = words
        self._heard = False

    def _feed_impl(self, samples: Pcm) -> list[Transcript]:
        self._heard = True
        return []

    def _finish_impl(self) -> list[Transcript]:
        return [Transcript(self._words, final=True)] if self._heard and self._words else []


class FakeRecognizer(Recognizer):
    """Hears ``words``, whatever audio it is given (none: nothing); also an
    :class:`~voicebot.speech.asr.stream.UtteranceSource` through ``open_utterance``.
    :attr:`phrases` records the phrase lists it was asked to restrict itself to."""

    engine = "fake"

    def __init__(self, words: str = "", locale: str = "en-US") -> None:
        super().__init__(locale)
        self.words = words
        self.phrases: list[Sequence[str] | None] = []

    def _session_impl(self, phrases: list[str] | None) -> RecognizerSession:
        self.phrases.append(phrases)
        return _FakeSession(self.words)


class FakeSynthesizer(Synthesizer):
    """Speaks a 440 Hz tone at 16 kHz, a tenth of a second per character of text (so audio
    goes through the real resampling and cache); :attr:`texts` lists what it synthesized."""

    engine = "fake"

    def __init__(self, cache: TtsCache, voice: str = "a440") -> None:
        super().__init__(voice, cache=cache)
        self.texts: list[str] = []

    @property
    def calls(self) -> int:
        """How many times the engine itself ran (cache hits do not count)."""
        return len(self.texts)

    async def _synthesize_impl(self, text: str, voice: str) -> RawAudio:
        self.texts.append(text)
        t = np.arange(len(text) * 1600) / 16000
        return RawAudio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
