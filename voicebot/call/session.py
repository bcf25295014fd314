"""One live call: the flow's runner on one side, a telephony leg with real audio on the other.

``CallSession`` is the :class:`~voicebot.flow.runner.FlowHost` of a real call. It waits for the
answer (no bot audio before it), starts the disclosure at once, hears digits and words through
:class:`~voicebot.call.ears.CallerEars`, plays prompts with barge-in (the disclosure yields to
"9" only), writes the do-not-call entry before any goodbye, records both sides, and keeps an
event log with monotonic timestamps from which every per-call QA check is computed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from voicebot.audio import FRAME_SAMPLES, Pcm, frames
from voicebot.call.amd import AmdParams, AnsweringMachineDetector
from voicebot.call.amd.watch import MachineWatch
from voicebot.call.ears import CallerEars
from voicebot.call.prompt_audio import PromptAudio
from voicebot.call.recording import DualTrackRecorder, RecordingInfo, RecordingSink, Track
from voicebot.call.transfer import ConnectedAgent, HandoffHook, TransferAsk, bridge, hold_music
from voicebot.eventlog import CallEvent, EventLog
from voicebot.flow.events import (
    ActionRun,
    CallerEvent,
    Dtmf,
    Hangup,
    IntentRecognized,
    NoInput,
    OutcomeReached,
    RunEvent,
    StateEntered,
    TranscriptLine,
    TransitionTaken,
    Utterance,
)
from voicebot.flow.loader import LoadedFlow
from voicebot.flow.machine import FlowSpec, compile_flow
from voicebot.flow.model import Handoff
from voicebot.flow.runner import (
    BargeIn,
    FlowResult,
    FlowRunner,
    HandoffContext,
    ListenSpec,
)
from voicebot.outcomes import Outcome
from voicebot.speech.asr.stream import UtteranceSource
from voicebot.speech.intent import recognize
from voicebot.speech.tts.base import Synthesizer
from voicebot.telephony.leg import CallState, HangupCause, Leg, LegStateError, outcome_for

log = logging.getLogger(__name__)

UTTERANCE_WAIT_S = 8.0
"""After a barge-in by speech, how long to wait for the words to be transcribed."""
SPEAKING_GRACE_S = 15.0
"""A listen timeout does not cut a caller who is still talking; it waits this much longer."""
MAX_CALL_S = 900.0
"""No call runs longer than this (a stuck far end must not hold a line for ever)."""


_DEFAULT_AMD = AmdParams()

VOICEMAIL_BEEP_WAIT_S = 30.0
"""How long to wait for a voicemail beep before leaving the message anyway."""


class _SpeechStarted:
    """Marker: the caller started talking over a prompt (the words are still coming)."""


_SPEECH = _SpeechStarted()


@dataclass
class CallHooks:
    """What a call asks of the rest of the engine; the dialer wires these to the store.

    ``opt_out`` must return only once the do-not-call entry is durable.
    """

    opt_out: Callable[[], Awaitable[None]]
    handoff: HandoffHook | None = None
    """Finds an agent (a desk); None: no agents, every handoff takes its fallback."""
    callback: Callable[[str | None], Awaitable[None]] | None = None
    opt_out_durable: bool = True
    """False when ``opt_out`` writes nowhere (a simulated callee without the gate's store):
    the log then says so instead of claiming a durable do-not-call entry."""


@dataclass(frozen=True)
class CallReport:
    """How one call went."""

    outcome: Outcome
    reason: str | None
    answered: bool
    talk_seconds: float
    states: tuple[str, ...] = ()
    variables: Mapping[str, object] = field(default_factory=dict)
    transcript: tuple[TranscriptLine, ...] = ()
    log: EventLog = field(default_factory=EventLog)
    recording: RecordingInfo | None = None
    hangup_cause: HangupCause | None = None


class CallSession:
    """Runs one call from dial to outcome. Create one per call; ``await run()`` once.

    Args:
        leg: the dialled leg (ringing or already ended).
        loaded: the flow with its prompts.
        synthesizer: speaks the prompts (the disclosure only from the pre-rendered cache).
        recognizer: hears words in the flow's locale (a recognizer, or a recognizer pool
            that decodes on other cores); None means keys only.
        hooks: do-not-call, handoff and callback.
        variables: the contact's values for ``{variables}``.
        spec: the compiled flow (compile once per campaign and share it).
        log: the event log to fill (one is made if None).
        recording: where the two-track recording goes; None records nothing.
        recording_name: the recording's name in that sink.
        amd: answering-machine detection settings; None turns it off. The bot speaks at
            once either way (the disclosure starts within a second of the answer); a machine
            verdict stops the flow, waits for the beep and runs the flow's ``voicemail`` state.
    """

    def __init__(
        self,
        leg: Leg,
        loaded: LoadedFlow,
        synthesizer: Synthesizer,
        recognizer: UtteranceSource | None,
        hooks: CallHooks,
        *,
        variables: Mapping[str, object] | None = None,
        spec: FlowSpec | None = None,
        log: EventLog | None = None,
        recording: RecordingSink | None = None,
        recording_name: str = "call",
        amd: AmdParams | None = _DEFAULT_AMD,
    ) -> None:
        if loaded.prompts is None:
            raise ValueError(f"{loaded.path}: no prompts for locale {loaded.flow.locale}")
        self.leg = leg
        self.loaded = loaded
        self.flow = loaded.flow
        self.spec = spec or compile_flow(loaded.flow)
        self.synthesizer = synthesizer
        self.hooks = hooks
        self.variables = dict(variables or {})
        self.log = log or EventLog()
        self._sink = recording
        self._recording_name = recording_name
        self._recorder = DualTrackRecorder() if recording is not None else None
        self._amd = amd
        self._machine = MachineWatch(AnsweringMachineDetector(amd) if amd else None)
        self.ears = CallerEars(
            leg,
            self.log,
            recognizer,
            self._recorder,
            frame_listeners=[self._machine.feed] if amd else None,
            locale=self.flow.locale,
        )
        self._answered_at: float | None = None
        self._audio = PromptAudio(loaded, synthesizer)
        self._held: list[CallerEvent] = []
        """Spoken opt-outs heard over the disclosure, for the next listen."""
        self._last_intent: str | None = None
        self._bridge: asyncio.Task[None] | None = None

    # ---- the call ------------------------------------------------------------------------

    async def run(self) -> CallReport:
        """Wait for the answer, run the flow, hang up, and report."""
        self.log.add(CallEvent.DIAL)
        rendering = asyncio.create_task(self._audio.prerender(self.spec, self.variables))
        try:
            return await self._run(rendering)
        finally:
            rendering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rendering

    async def _run(self, rendering: asyncio.Task[None]) -> CallReport:
        if not await self.leg.wait_answered():
            cause = await self.leg.wait_ended()
            self.log.add(CallEvent.HANGUP, cause=str(cause))
            outcome = outcome_for(cause) or Outcome.FAILED
            self.log.add(CallEvent.OUTCOME, outcome=outcome.value)
            why = getattr(self.leg, "reason", None)  # a gateway says why it failed
            said = f"not answered: {cause}" + (f" ({why})" if why else "")
            return CallReport(outcome, said, False, 0.0, log=self.log, hangup_cause=cause)
        self._answered_at = self.log.clock()
        self.log.add(CallEvent.ANSWER)
        self.ears.start()
        flow_run = asyncio.create_task(self._run_flow(self.spec))
        machine = asyncio.create_task(self._machine.wait()) if self._amd else None
        try:
            await asyncio.wait(
                [t for t in (flow_run, machine) if t is not None],
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            if machine is not None and not machine.done():
                machine.cancel()
        if not flow_run.done():  # an answering machine: stop talking, wait for the beep
            flow_run.cancel()
            self.leg.interrupt()
            with contextlib.suppress(asyncio.CancelledError):
                await flow_run
            flow_run = asyncio.create_task(self._voicemail())
        result, outcome, reason = await flow_run
        if outcome is not Outcome.HANDOFF or self._bridge is None:
            await self.leg.hangup()
        cause = await self.leg.wait_ended()
        if self._bridge is not None:
            await self._bridge
        talk = self.log.clock() - self._answered_at
        await self.ears.stop()
        dropped = outcome is Outcome.HUNG_UP and cause is HangupCause.FAILED
        if dropped:  # the line dropped (a gateway died, the media failed): nobody hung up
            outcome = Outcome.FAILED
            reason = getattr(self.leg, "reason", None) or "the line failed during the call"
        if result is None or dropped:
            self.log.add(CallEvent.OUTCOME, outcome=outcome.value, reason=reason)
        recording = self._finish_recording()
        return CallReport(
            outcome=outcome,
            reason=reason,
            answered=True,
            talk_seconds=round(talk, 3),
            states=result.states if result else (),
            variables=result.variables if result else {},
            transcript=result.transcript if result else (),
            log=self.log,
            recording=recording,
            hangup_cause=cause,
        )

    async def _run_flow(self, spec: FlowSpec) -> tuple[FlowResult | None, Outcome, str | None]:
        """Run the flow (from ``spec``'s start) to an outcome; failures become ``failed``."""
        assert self.loaded.prompts is not None
        runner = FlowRunner(
            spec, self.loaded.prompts, self, variables=self.variables, on_event=self._on_run_event
        )
        try:
            result = await asyncio.wait_for(runner.run(), MAX_CALL_S)
        except TimeoutError:
            return None, Outcome.FAILED, f"call exceeded {MAX_CALL_S:.0f} s"
        except Exception as exc:  # the media or a hook broke: the call failed, say why
            log.exception("call failed")
            return None, Outcome.FAILED, f"{type(exc).__name__}: {exc}"
        return result, result.outcome, result.reason

    async def _voicemail(self) -> tuple[FlowResult | None, Outcome, str | None]:
        """An answering machine picked up: wait for its beep, then leave the flow's voicemail
        message (its ``voicemail`` state), or hang up when the flow has none."""
        first = self._machine.result
        assert first is not None
        self.log.add(
            CallEvent.AMD,
            verdict=first.verdict.value,
            reason=first.reason,
            decided_ms=round(first.decided_ms),
        )
        final = await self._machine.wait_final(VOICEMAIL_BEEP_WAIT_S)
        if final is not None and final.beep is not None:
            self.log.add(CallEvent.AMD, verdict="beep", end_ms=round(final.beep.end_ms))
        if self.flow.voicemail is None or self.leg.state is not CallState.ANSWERED:
            return None, Outcome.VOICEMAIL, "answering machine; the flow leaves no message"
        spec = compile_flow(self.flow.model_copy(update={"start": self.flow.voicemail}))
        result, outcome, reason = await self._run_flow(spec)
        if outcome in (Outcome.COMPLETED, Outcome.HUNG_UP):
            outcome = Outcome.VOICEMAIL
        return result, outcome, reason or "answering machine; message left"

    def _finish_recording(self) -> RecordingInfo | None:
        if self._recorder is None or self._sink is None:
            return None
        info = self._recorder.finish(self._sink, self._recording_name)
        self.log.add(
            CallEvent.RECORDING,
            reference=info.reference,
            seconds=round(info.seconds, 2),
            paused_seconds=round(info.paused_seconds, 2),
        )
        return info

    def _on_run_event(self, event: RunEvent) -> None:
        if isinstance(event, StateEntered):
            self.log.add(CallEvent.STATE, state=event.state)
            if self._recorder is not None:
                sensitive = self.flow.states[event.state].sensitive
                (self._recorder.pause if sensitive else self._recorder.resume)()
        elif isinstance(event, IntentRecognized):
            self._last_intent = event.intent
            self.log.add(
                CallEvent.INTENT, text=event.text, intent=event.intent, score=round(event.score, 3)
            )
        elif isinstance(event, TransitionTaken):
            self.log.add(
                CallEvent.TRANSITION, trigger=event.trigger, source=event.source, dest=event.dest
            )
        elif isinstance(event, ActionRun):
            detail = event.detail
            if event.kind == "opt_out" and not self.hooks.opt_out_durable:
                detail = "not written: no store (simulated callee, no gate)"
            self.log.add(CallEvent.ACTION, action=event.kind, detail=detail)
        elif isinstance(event, OutcomeReached):
            self.log.add(CallEvent.OUTCOME, outcome=event.outcome.value, reason=event.reason)

    # ---- FlowHost ------------------------------------------------------------------------

    async def say(self, prompt_id: str, text: str, *, barge_in: BargeIn) -> CallerEvent | None:
        """Play a prompt; return the caller event that cut it (see :class:`BargeIn`)."""
        if self.leg.state is not CallState.ANSWERED:
            return Hangup()
        if self._held and isinstance(self._held[0], Dtmf):  # a "9" pressed while on hold
            return self._held.pop(0)
        pcm = await self._audio.get(prompt_id, text)
        self.ears.speech_started.clear()
        slot = self.ears.slot
        self.log.add(CallEvent.PROMPT_START, prompt=prompt_id)
        playing = asyncio.create_task(self.leg.play(pcm, interruptible=True))
        try:
            cut = await self._watch(playing, barge_in)
        except asyncio.CancelledError:  # an answering machine took over, or the call ended
            playing.cancel()
            self.log.add(CallEvent.PROMPT_INTERRUPTED, prompt=prompt_id, by="cancelled")
            raise
        played = await playing
        self._record_bot(pcm, slot, played.played_ms)
        if played.completed:
            self.log.add(CallEvent.PROMPT_END, prompt=prompt_id)
            return None
        self.log.add(
            CallEvent.PROMPT_INTERRUPTED,
            prompt=prompt_id,
            played_ms=round(played.played_ms),
            by="speech" if cut is _SPEECH else str(cut),
        )
        if isinstance(cut, _SpeechStarted):
            return await self._utterance_after_barge_in()
        if cut is None and self.leg.state is not CallState.ANSWERED:
            return Hangup()
        return cut

    async def _watch(
        self, playing: asyncio.Task[object], barge_in: BargeIn
    ) -> CallerEvent | _SpeechStarted | None:
        """Wait for the prompt to end, or for an event that may cut it (then stop it at once)."""
        while not playing.done():
            getter = asyncio.create_task(self.ears.events.get())
            waiters: set[asyncio.Future[object]] = {playing, getter}  # type: ignore[arg-type]
            speech = None
            if barge_in is BargeIn.ANY:
                speech = asyncio.create_task(self.ears.speech_started.wait())
                waiters.add(speech)  # type: ignore[arg-type]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for task in (getter, speech):
                if task is not None and not task.done():
                    task.cancel()
            event = getter.result() if getter.done() and not getter.cancelled() else None
            if event is not None:
                if self._cuts(event, barge_in):
                    self.leg.interrupt()
                    return event
                self._set_aside(event)
                continue
            if speech is not None and speech.done() and not speech.cancelled():
                self.leg.interrupt()
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
        if isinstance(event, Utterance):
            match = recognize(event.text, self.flow.locale, ("opt_out",))
            if match.intent == "opt_out":
                self._held.append(event)
                return
        self.log.add(CallEvent.ACTION, action="ignored", detail=f"{event} during the disclosure")

    async def _utterance_after_barge_in(self) -> CallerEvent | None:
        """The caller started talking over a prompt: wait for the words (or a digit), longer
        than :data:`UTTERANCE_WAIT_S` while they are still being recognized."""
        return await self._next_event(UTTERANCE_WAIT_S)

    async def _next_event(self, timeout: float) -> CallerEvent | None:
        """The caller's next event within ``timeout``; words still on their way at the timeout
        (the caller talking, or being recognized) are waited for, up to the grace."""
        try:
            return await asyncio.wait_for(self.ears.events.get(), timeout)
        except TimeoutError:
            pass
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SPEAKING_GRACE_S
        while True:  # look at the queue once more before giving up: words may have just come
            with contextlib.suppress(asyncio.QueueEmpty):
                return self.ears.events.get_nowait()
            if not self.ears.hearing or loop.time() >= deadline:
                return None
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(self.ears.events.get(), 0.1)

    def _record_bot(self, pcm: Pcm, first_slot: int, played_ms: float) -> None:
        if self._recorder is None:
            return
        count = int(played_ms / 20)
        for i, frame in enumerate(frames(pcm[: count * FRAME_SAMPLES])):
            self._recorder.add(Track.BOT, first_slot + i, frame)

    async def listen(self, spec: ListenSpec) -> CallerEvent:
        """The caller's next digit or words; silence until the timeout is :class:`NoInput`."""
        if self._held:
            return self._held.pop(0)
        # Still talking (or being recognized) at the timeout is not silence.
        event = await self._next_event(spec.timeout)
        if event is not None:
            return event
        self.log.add(CallEvent.NO_INPUT, state=spec.state, timeout=spec.timeout)
        return NoInput()

    async def opt_out(self) -> None:
        """Do-not-call, durably, before anything else is said."""
        await self.hooks.opt_out()
        if self.hooks.opt_out_durable:
            self.log.add(CallEvent.DNC_COMMITTED)

    async def handoff(self, handoff: Handoff, context: HandoffContext) -> bool:
        """Wait for an agent with hold audio; once one is connected, whisper to them and
        bridge the caller. False when nobody accepted, the caller opted out or hung up."""
        if self.hooks.handoff is None:
            self.log.add(
                CallEvent.HANDOFF,
                queue=handoff.queue,
                accepted=False,
                reason="no agent console connected",
            )
            return False
        asking = asyncio.create_task(
            self.hooks.handoff(TransferAsk(handoff, context, self._last_intent))
        )
        holding = asyncio.create_task(self._hold(handoff, context))
        try:
            agent = await self._wait_for_agent(asking)
        finally:
            holding.cancel()
            self.leg.interrupt()
            with contextlib.suppress(asyncio.CancelledError, LegStateError):
                await holding
        if agent is None:
            self.log.add(CallEvent.HANDOFF, queue=handoff.queue, accepted=False)
            return False
        self.log.add(CallEvent.HANDOFF, queue=handoff.queue, accepted=True, agent=agent.agent)
        if handoff.whisper is not None and context.whisper:
            pcm = await self._audio.get(handoff.whisper, context.whisper)
            with contextlib.suppress(Exception):  # the agent hung up during the whisper
                await agent.leg.play(pcm, interruptible=False)
        self.ears.step_aside()
        self._bridge = asyncio.create_task(bridge(self.leg, agent, self._record_agent))
        return True

    async def _wait_for_agent(
        self, asking: asyncio.Task[ConnectedAgent | None]
    ) -> ConnectedAgent | None:
        """The desk's answer, unless the caller opts out or hangs up first (then the request
        is cancelled and the event kept for the flow)."""
        while not asking.done():
            heard = asyncio.create_task(self.ears.events.get())
            await asyncio.wait({asking, heard}, return_when=asyncio.FIRST_COMPLETED)
            if not heard.done():
                heard.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heard
                continue
            event = heard.result()
            opting_out = (isinstance(event, Dtmf) and event.is_opt_out) or (
                isinstance(event, Utterance)
                and recognize(event.text, self.flow.locale, ("opt_out",)).intent == "opt_out"
            )
            if isinstance(event, Hangup) or opting_out:
                asking.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asking
                if opting_out:
                    self._held.insert(0, Dtmf("9") if isinstance(event, Dtmf) else event)
                return None
            self.log.add(CallEvent.ACTION, action="ignored", detail=f"{event} while on hold")
        return asking.result()

    async def _hold(self, handoff: Handoff, context: HandoffContext) -> None:
        """Hold audio until cancelled: chimes, and the hold prompt again every round."""
        music = hold_music()
        while self.leg.state is CallState.ANSWERED:
            slot = self.ears.slot
            played = await self.leg.play(music, interruptible=True)
            self._record_bot(music, slot, played.played_ms)
            if handoff.hold is not None and context.hold:
                pcm = await self._audio.get(handoff.hold, context.hold)
                slot = self.ears.slot
                played = await self.leg.play(pcm, interruptible=True)
                self._record_bot(pcm, slot, played.played_ms)

    def _record_agent(self, frame: Pcm) -> None:
        """The agent's voice, recorded on the bot's track while the caller is bridged."""
        if self._recorder is not None:
            self._recorder.add(Track.BOT, self.ears.slot, frame)

    async def callback(self, when: str | None) -> None:
        """Ask the dialer for a callback."""
        if self.hooks.callback is not None:
            await self.hooks.callback(when)

    async def hangup(self) -> None:
        """End the call from the bot's side."""
        await self.leg.hangup()
