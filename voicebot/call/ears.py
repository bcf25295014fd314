"""The bot's ears on one call: digits, speech and hang-up, turned into the flow's caller events.

Inbound audio is read once and fanned out: the recorder keeps it, the in-band DTMF detector and
the voice activity detector analyse it, and each utterance is streamed to speech recognition
while the caller speaks (a recognizer pool decodes it on another core), so its words are ready
soon after the end of speech. Out-of-band digits (RFC 4733, SIP INFO) arrive from the leg and
are merged with in-band ones, without counting one key press twice. A detected key tone is
never also sent to speech recognition, and no recognizer, slow or dead, delays a key.

The silence that ends an utterance adapts: once the partial words make a complete answer
("no", "not interested", "do not call me again") a short silence ends it; mid-sentence the
detector waits longer (see :meth:`voicebot.speech.vad.Vad.expect_end`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from voicebot.audio import FRAME_MS, Pcm
from voicebot.call.recording import DualTrackRecorder, Track
from voicebot.eventlog import CallEvent, EventLog
from voicebot.flow.events import CallerEvent, Dtmf, Hangup, Utterance
from voicebot.speech.asr.base import AsrError
from voicebot.speech.asr.stream import UtteranceSource, UtteranceStream
from voicebot.speech.dtmf import DtmfDetector
from voicebot.speech.vad import Vad, VadEventKind
from voicebot.telephony.leg import Leg

log = logging.getLogger(__name__)

PRE_ROLL_FRAMES = 15
"""Audio kept from before the detected speech start (300 ms), so first syllables reach ASR."""
DUPLICATE_DIGIT_S = 0.3
"""An in-band digit this soon after the same out-of-band digit is the same key press."""
COMPLETE_ANSWER_SILENCE_MS = 300.0
"""The silence that ends an utterance whose words so far are a complete answer. Longer than
the comma pause of "No, I'm not interested" (about 200 ms), far shorter than the 600 ms that
ends a sentence whose meaning is not known yet."""


def complete_answer(locale: str) -> Callable[[str], bool]:
    """A test for partial words: do they already mean something the flow can act on?"""
    from voicebot.speech.intent import recognize

    def complete(text: str) -> bool:
        return recognize(text, locale).intent is not None

    return complete


class CallerEars:
    """Listens to the caller for the whole call and queues what they do.

    Args:
        leg: the answered call.
        log: the call's event log (digits, speech starts, utterances, hang-up).
        recognizer: speech to text for the flow's locale (a recognizer or a recognizer pool);
            None when none is available (then only keys are heard, and the log says so).
        recorder: keeps the caller's track, when the call is recorded.
        frame_listeners: called with every inbound frame (answering-machine detection).
        locale: the flow's locale; with it, complete short answers end sooner.
    """

    def __init__(
        self,
        leg: Leg,
        log: EventLog,
        recognizer: UtteranceSource | None,
        recorder: DualTrackRecorder | None = None,
        frame_listeners: list[Callable[[Pcm], None]] | None = None,
        locale: str | None = None,
    ) -> None:
        self.leg = leg
        self.log = log
        self.recognizer = recognizer
        self.recorder = recorder
        self.frame_listeners = list(frame_listeners or [])
        self.events: asyncio.Queue[CallerEvent] = asyncio.Queue()
        self.speech_started = asyncio.Event()
        self.slot = 0
        """Inbound frames so far: the call's 20 ms timeline (the recorder's slot index)."""
        self._dtmf = DtmfDetector()
        self._vad = Vad()
        self._complete = complete_answer(locale) if locale else None
        self._pre_roll: deque[Pcm] = deque(maxlen=PRE_ROLL_FRAMES)
        self._stream: UtteranceStream | None = None
        self._frames_in_utterance = 0
        self._digit_in_utterance = False
        self._last_digit: tuple[str, float] = ("", 0.0)
        self._tasks: list[asyncio.Task[None]] = []
        self._words: asyncio.Task[None] | None = None
        """The latest utterance's words on their way (each waits for the one before it)."""
        self._aside = False

    @property
    def in_speech(self) -> bool:
        """Whether the caller is talking right now."""
        return self._vad.in_speech

    @property
    def hearing(self) -> bool:
        """Whether words are on their way: the caller is talking, or being recognized."""
        return self._vad.in_speech or (self._words is not None and not self._words.done())

    def step_aside(self) -> None:
        """The bot leaves the audio path (a person took the call): keep recording the caller,
        stop hearing digits and words."""
        self._aside = True
        self._drop_utterance()

    def start(self) -> None:
        """Start listening (call once the leg is answered)."""
        self._tasks = [
            asyncio.create_task(self._hear_audio(), name="ears-audio"),
            asyncio.create_task(self._hear_keys(), name="ears-keys"),
        ]

    async def stop(self) -> None:
        """Stop listening and release the tasks."""
        self._drop_utterance()
        tasks = [*self._tasks, *([self._words] if self._words is not None else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _hear_audio(self) -> None:
        async for frame in self.leg.audio():
            self.slot += 1
            if self.recorder is not None:
                self.recorder.add(Track.CALLER, self.slot, frame)
            if self._aside:
                continue
            for listener in self.frame_listeners:
                listener(frame)
            for press in self._dtmf.feed(frame):
                self._digit(press.digit, "inband")
            self._speech(frame)
        if self._vad.in_speech:
            self._end_of_speech(0.0)
        self.log.add(CallEvent.HANGUP, cause=str(self.leg.cause))
        words = self._words
        if words is not None:  # the last words before the hang-up still count
            with contextlib.suppress(asyncio.CancelledError):
                await words
        self.events.put_nowait(Hangup())

    async def _hear_keys(self) -> None:
        async for event in self.leg.dtmf():
            self._digit(event.digit, event.source)

    def _digit(self, digit: str, source: str) -> None:
        now = time.monotonic()
        last_digit, last_at = self._last_digit
        if source == "inband" and digit == last_digit and now - last_at < DUPLICATE_DIGIT_S:
            return
        self._last_digit = (digit, now)
        self._digit_in_utterance = True
        self._drop_utterance()  # a key tone, heard as a digit: no words in it
        self.log.add(CallEvent.DIGIT, digit=digit, source=source)
        self.events.put_nowait(Dtmf(digit))

    def _speech(self, frame: Pcm) -> None:
        silence_ms = self._vad.silence_ms
        for event in self._vad.feed(frame):
            if event.kind is VadEventKind.START:
                self._digit_in_utterance = False
                self.log.add(CallEvent.SPEECH_START)
                self.speech_started.set()
                self._open_utterance()
            else:
                self._end_of_speech(silence_ms + FRAME_MS)
        if self._vad.in_speech:
            self._frames_in_utterance += 1
            if self._stream is not None:
                self._stream.feed(frame)
        else:
            self._pre_roll.append(frame)

    def _open_utterance(self) -> None:
        self._frames_in_utterance = len(self._pre_roll)
        if self.recognizer is None or self._digit_in_utterance:
            return
        try:
            stream = self.recognizer.open_utterance(self._partial)
        except AsrError as exc:  # the pool is closing: the call is ending anyway
            log.warning("speech recognition unavailable: %s", exc)
            return
        for frame in self._pre_roll:
            stream.feed(frame)
        self._stream = stream

    def _partial(self, text: str) -> None:
        """Words heard so far: a complete answer may end with a shorter silence."""
        if self._complete is not None and self._vad.in_speech and self._complete(text):
            self._vad.expect_end(COMPLETE_ANSWER_SILENCE_MS)

    def _drop_utterance(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    def _end_of_speech(self, silence_ms: float) -> None:
        """Flush the utterance to the recognizer; never wait for its words here, so the audio
        loop keeps up (a key pressed while words are being recognized must not be lost)."""
        self.log.add(CallEvent.SPEECH_END, silence_ms=round(silence_ms))
        seconds = round(self._frames_in_utterance * FRAME_MS / 1000, 2)
        if self._digit_in_utterance:  # a key tone, already heard as a digit
            self._drop_utterance()
            return
        if self.recognizer is None:
            self.log.add(
                CallEvent.UTTERANCE,
                text="",
                seconds=seconds,
                note="no speech recognizer for this locale",
            )
            return
        stream, self._stream = self._stream, None
        if stream is None:
            return
        stream.end()
        self._words = asyncio.create_task(
            self._await_words(stream, seconds, self._words, time.monotonic()), name="ears-words"
        )

    async def _await_words(
        self,
        stream: UtteranceStream,
        seconds: float,
        before: asyncio.Task[None] | None,
        ended_at: float,
    ) -> None:
        """Queue an utterance's words once they are known, after the utterance before it."""
        try:
            text = await stream.text()
            error = None
        except AsrError as exc:  # one lost utterance must not deafen the bot for the call
            text, error = "", str(exc)
        except asyncio.CancelledError:  # the call ended first: say what was not heard
            notes = getattr(stream, "notes", None)
            self.log.add(
                CallEvent.UTTERANCE,
                text="",
                seconds=seconds,
                error="the call ended before the words were recognized",
                **({"note": "; ".join(notes)} if notes else {}),
            )
            raise
        wait_ms = round(1000 * (time.monotonic() - ended_at))
        if before is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await before
        notes = getattr(stream, "notes", None)
        extra: dict[str, object] = {"note": "; ".join(notes)} if notes else {}
        worker = getattr(stream, "worker", None)
        if worker is not None:
            extra["asr_worker"] = worker.pid
        if error is not None:
            log.warning("speech recognition lost an utterance: %s", error)
            self.log.add(
                CallEvent.UTTERANCE, text="", seconds=seconds, asr_ms=wait_ms, error=error, **extra
            )
            return
        self.log.add(CallEvent.UTTERANCE, text=text, seconds=seconds, asr_ms=wait_ms, **extra)
        if text.strip():
            self.events.put_nowait(Utterance(text.strip()))
