"""The bot's ears on one call: digits, speech and hang-up, turned into the flow's caller events.

Inbound audio is read once and fanned out: the recorder keeps it, the in-band DTMF detector and
the voice activity detector analyse it, and each finished utterance is transcribed. Out-of-band
digits (RFC 4733, SIP INFO) arrive from the leg and are merged with in-band ones, without
counting one key press twice. A detected key tone is never also sent to speech recognition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from voicebot.audio import SAMPLE_RATE, Pcm
from voicebot.call.eventlog import CallEvent, EventLog
from voicebot.call.recording import DualTrackRecorder, Track
from voicebot.flow.events import CallerEvent, Dtmf, Hangup, Utterance
from voicebot.speech.asr.base import Recognizer
from voicebot.speech.dtmf import DtmfDetector
from voicebot.speech.vad import Vad, VadEventKind
from voicebot.telephony.leg import Leg

log = logging.getLogger(__name__)

PRE_ROLL_FRAMES = 15
"""Audio kept from before the detected speech start (300 ms), so first syllables reach ASR."""
DUPLICATE_DIGIT_S = 0.3
"""An in-band digit this soon after the same out-of-band digit is the same key press."""


class CallerEars:
    """Listens to the caller for the whole call and queues what they do.

    Args:
        leg: the answered call.
        log: the call's event log (digits, speech starts, utterances, hang-up).
        recognizer: speech to text for the flow's locale; None when none is available (then
            only keys are heard, and the log says so once).
        recorder: keeps the caller's track, when the call is recorded.
        frame_listeners: called with every inbound frame (answering-machine detection).
    """

    def __init__(
        self,
        leg: Leg,
        log: EventLog,
        recognizer: Recognizer | None,
        recorder: DualTrackRecorder | None = None,
        frame_listeners: list[Callable[[Pcm], None]] | None = None,
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
        self._pre_roll: deque[Pcm] = deque(maxlen=PRE_ROLL_FRAMES)
        self._utterance: list[Pcm] = []
        self._digit_in_utterance = False
        self._last_digit: tuple[str, float] = ("", 0.0)
        self._tasks: list[asyncio.Task[None]] = []
        self._to_transcribe: asyncio.Queue[Pcm] = asyncio.Queue()
        self._transcribing = False
        self._aside = False

    @property
    def in_speech(self) -> bool:
        """Whether the caller is talking right now."""
        return self._vad.in_speech

    @property
    def hearing(self) -> bool:
        """Whether words are on their way: the caller is talking, or being transcribed."""
        return self._vad.in_speech or self._transcribing or not self._to_transcribe.empty()

    def step_aside(self) -> None:
        """The bot leaves the audio path (a person took the call): keep recording the caller,
        stop hearing digits and words."""
        self._aside = True

    def start(self) -> None:
        """Start listening (call once the leg is answered)."""
        self._tasks = [
            asyncio.create_task(self._hear_audio(), name="ears-audio"),
            asyncio.create_task(self._hear_keys(), name="ears-keys"),
            asyncio.create_task(self._transcribe_utterances(), name="ears-asr"),
        ]

    async def stop(self) -> None:
        """Stop listening and release the tasks."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
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
        self._end_of_speech()
        self.log.add(CallEvent.HANGUP, cause=str(self.leg.cause))
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
        self.log.add(CallEvent.DIGIT, digit=digit, source=source)
        self.events.put_nowait(Dtmf(digit))

    def _speech(self, frame: Pcm) -> None:
        for event in self._vad.feed(frame):
            if event.kind is VadEventKind.START:
                self._utterance = list(self._pre_roll)
                self._digit_in_utterance = False
                self.log.add(CallEvent.SPEECH_START)
                self.speech_started.set()
            else:
                self.log.add(CallEvent.SPEECH_END)
                self._end_of_speech()
        if self._vad.in_speech:
            self._utterance.append(frame)
        else:
            self._pre_roll.append(frame)

    def _end_of_speech(self) -> None:
        """Hand a finished utterance to the transcriber; never wait for it here, so the audio
        loop keeps up (a key pressed while words are being transcribed must not be lost)."""
        if not self._utterance:
            return
        audio, self._utterance = np.concatenate(self._utterance), []
        if self._digit_in_utterance:  # a key tone, already heard as a digit
            return
        self._to_transcribe.put_nowait(audio)

    async def _transcribe_utterances(self) -> None:
        """Transcribe utterances one at a time, in order, and queue their words."""
        while True:
            audio = await self._to_transcribe.get()
            seconds = round(len(audio) / SAMPLE_RATE, 2)
            if self.recognizer is None:
                self.log.add(
                    CallEvent.UTTERANCE,
                    text="",
                    seconds=seconds,
                    note="no speech recognizer for this locale",
                )
                continue
            self._transcribing = True
            try:
                text = await asyncio.to_thread(self.recognizer.transcribe, audio)
            except Exception as exc:  # one bad utterance must not deafen the bot for the call
                log.exception("speech recognition failed")
                self.log.add(
                    CallEvent.UTTERANCE,
                    text="",
                    seconds=seconds,
                    error=f"{type(exc).__name__}: {exc}",
                )
                continue
            finally:
                self._transcribing = False
            self.log.add(CallEvent.UTTERANCE, text=text, seconds=seconds)
            if text.strip():
                self.events.put_nowait(Utterance(text.strip()))
