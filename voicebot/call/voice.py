"""The call's voice: prompts played with barge-in, and the caller's next event heard.

What may cut a prompt is the flow's call (:class:`~voicebot.flow.host.BargeIn`): anything the
caller does, or, during the disclosure, only a hangup or "9". Words said over the disclosure
are read once for an opt-out; one is kept for the next listen (it must be honoured), anything
else is dropped and logged. Every bot frame that reached the line is recorded on the bot's
track at the slot it was played in.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

from voicebot.audio import FRAME_SAMPLES, Pcm, frames
from voicebot.call.ears import CallerEars
from voicebot.call.prompt_audio import PromptAudio
from voicebot.call.recording import DualTrackRecorder, Track
from voicebot.eventlog import CallEvent, EventLog
from voicebot.flow.events import CallerEvent, Dtmf, Hangup, NoInput, Utterance
from voicebot.flow.host import BargeIn, ListenSpec
from voicebot.speech.intent import recognize
from voicebot.telephony.leg import CallState, Leg

UTTERANCE_WAIT_S = 8.0
"""After a barge-in by speech, how long to wait for the words to be transcribed."""
SPEAKING_GRACE_S = 15.0
"""A listen timeout does not cut a caller who is still talking; it waits this much longer."""


class _SpeechStarted:
    """Marker: the caller started talking over a prompt (the words are still coming)."""


_SPEECH = _SpeechStarted()


def read_as_opt_out(event: CallerEvent, locale: str) -> CallerEvent | None:
    """``event`` as an opt-out ("9", or words whose intent is ``opt_out``, read here once and
    kept on the utterance so the runner does not read them again); None if it is not one."""
    if isinstance(event, Dtmf):
        return event if event.is_opt_out else None
    if isinstance(event, Utterance):
        match = recognize(event.text, locale, ("opt_out",))
        if match.intent == "opt_out":
            return replace(event, intent="opt_out", score=match.score)
    return None


class CallVoice:
    """Speaks a call's prompts and hears what the caller does next.

    Args:
        leg: the call's line.
        ears: digits and words from that line.
        log: the call's event log.
        audio: the flow's prompts as audio.
        recorder: the two-track recorder, None when nothing is recorded.
        locale: the flow's locale (for reading words as an opt-out).
    """

    def __init__(
        self,
        leg: Leg,
        ears: CallerEars,
        log: EventLog,
        audio: PromptAudio,
        recorder: DualTrackRecorder | None,
        locale: str,
    ) -> None:
        self._leg = leg
        self._ears = ears
        self._log = log
        self._audio = audio
        self._recorder = recorder
        self._locale = locale
        self._held: list[CallerEvent] = []
        """Opt-outs heard where they could not act yet (over the disclosure, on hold)."""

    def hold_for_next_listen(self, event: CallerEvent) -> None:
        """Keep an opt-out for the flow: it comes first, before anything the caller says next."""
        self._held.insert(0, event)

    async def say(self, prompt_id: str, text: str, *, barge_in: BargeIn) -> CallerEvent | None:
        """Play a prompt; return the caller event that cut it (see :class:`BargeIn`)."""
        if self._leg.state is not CallState.ANSWERED:
            return Hangup()
        if self._held and isinstance(self._held[0], Dtmf):  # a "9" pressed while on hold
            return self._held.pop(0)
        pcm = await self._audio.get(prompt_id, text)
        self._ears.speech_started.clear()
        slot = self._ears.slot
        self._log.add(CallEvent.PROMPT_START, prompt=prompt_id)
        playing = asyncio.create_task(self._leg.play(pcm, interruptible=True))
        try:
            cut = await self._watch(playing, barge_in)
        except asyncio.CancelledError:  # an answering machine took over, or the call ended
            playing.cancel()
            self._log.add(CallEvent.PROMPT_INTERRUPTED, prompt=prompt_id, by="cancelled")
            raise
        played = await playing
        self.record_bot(pcm, slot, played.played_ms)
        if played.completed:
            self._log.add(CallEvent.PROMPT_END, prompt=prompt_id)
            return None
        self._log.add(
            CallEvent.PROMPT_INTERRUPTED,
            prompt=prompt_id,
            played_ms=round(played.played_ms),
            by="speech" if cut is _SPEECH else str(cut),
        )
        if isinstance(cut, _SpeechStarted):  # wait for the words (or a digit)
            return await self.next_event(UTTERANCE_WAIT_S)
        if cut is None and self._leg.state is not CallState.ANSWERED:
            return Hangup()
        return cut

    async def play(self, pcm: Pcm) -> None:
        """Play audio that anything may cut (hold music), recorded as the bot's."""
        slot = self._ears.slot
        played = await self._leg.play(pcm, interruptible=True)
        self.record_bot(pcm, slot, played.played_ms)

    async def _watch(
        self, playing: asyncio.Task[object], barge_in: BargeIn
    ) -> CallerEvent | _SpeechStarted | None:
        """Wait for the prompt to end, or for an event that may cut it (then stop it at once)."""
        while not playing.done():
            getter = asyncio.create_task(self._ears.events.get())
            waiters: set[asyncio.Future[object]] = {playing, getter}  # type: ignore[arg-type]
            speech = None
            if barge_in is BargeIn.ANY:
                speech = asyncio.create_task(self._ears.speech_started.wait())
                waiters.add(speech)  # type: ignore[arg-type]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for task in (getter, speech):
                if task is not None and not task.done():
                    task.cancel()
            event = getter.result() if getter.done() and not getter.cancelled() else None
            if event is not None:
                if self._cuts(event, barge_in):
                    self._leg.interrupt()
                    return event
                self._set_aside(event)
                continue
            if speech is not None and speech.done() and not speech.cancelled():
                self._leg.interrupt()
                return _SPEECH
        return None

    @staticmethod
    def _cuts(event: CallerEvent, barge_in: BargeIn) -> bool:
        if isinstance(event, Hangup):
            return True
        if barge_in is BargeIn.ANY:
            return True
        return isinstance(event, Dtmf) and event.is_opt_out

    def _set_aside(self, event: CallerEvent) -> None:
        """An event that may not cut the disclosure: a spoken opt-out is kept for the next
        listen (it must be honoured); anything else said over the disclosure is dropped."""
        opt_out = read_as_opt_out(event, self._locale)
        if isinstance(opt_out, Utterance):
            self._held.append(opt_out)
            return
        self._log.add(CallEvent.ACTION, action="ignored", detail=f"{event} during the disclosure")

    async def next_event(self, timeout: float) -> CallerEvent | None:
        """The caller's next event within ``timeout``; words still on their way at the timeout
        (the caller talking, or being recognized) are waited for, up to the grace."""
        try:
            return await asyncio.wait_for(self._ears.events.get(), timeout)
        except TimeoutError:
            pass
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SPEAKING_GRACE_S
        while True:  # look at the queue once more before giving up: words may have just come
            with contextlib.suppress(asyncio.QueueEmpty):
                return self._ears.events.get_nowait()
            if not self._ears.hearing or loop.time() >= deadline:
                return None
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(self._ears.events.get(), 0.1)

    async def listen(self, spec: ListenSpec) -> CallerEvent:
        """The caller's next digit or words; silence until the timeout is :class:`NoInput`."""
        if self._held:
            return self._held.pop(0)
        # Still talking (or being recognized) at the timeout is not silence.
        event = await self.next_event(spec.timeout)
        if event is not None:
            return event
        self._log.add(CallEvent.NO_INPUT, state=spec.state, timeout=spec.timeout)
        return NoInput()

    def record_bot(self, pcm: Pcm, first_slot: int, played_ms: float) -> None:
        """The part of ``pcm`` that was played, on the bot's track from ``first_slot``."""
        if self._recorder is None:
            return
        count = int(played_ms / 20)
        for i, frame in enumerate(frames(pcm[: count * FRAME_SAMPLES])):
            self._recorder.add(Track.BOT, first_slot + i, frame)

    def record_agent(self, frame: Pcm) -> None:
        """The agent's voice, recorded on the bot's track while the caller is bridged."""
        if self._recorder is not None:
            self._recorder.add(Track.BOT, self._ears.slot, frame)
