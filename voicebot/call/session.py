"""One live call: the flow's runner on one side, a telephony leg with real audio on the other.

``CallSession`` is the :class:`~voicebot.flow.runner.FlowHost` of a real call and owns its
lifecycle: it waits for the answer (no bot audio before it), starts the flow at once, turns to
the voicemail message when the answering-machine detector says so, writes the do-not-call
entry before any goodbye, and ends the call in one place (:meth:`CallSession._end`: hang up,
wait for the line to end, log the outcome once). Its rooms: :class:`~voicebot.call.ears.CallerEars`
hear digits and words, :class:`~voicebot.call.voice.CallVoice` plays prompts with barge-in (the
disclosure yields to "9" only), :class:`~voicebot.call.transfer.CallTransfer` holds, whispers
and bridges. The event log, with monotonic timestamps, is what every per-call QA check reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from voicebot.call.amd import AmdParams, AnsweringMachineDetector
from voicebot.call.amd.watch import MachineWatch
from voicebot.call.ears import CallerEars
from voicebot.call.prompt_audio import PromptAudio
from voicebot.call.recording import DualTrackRecorder, RecordingInfo, RecordingSink
from voicebot.call.transfer import CallTransfer, HandoffHook
from voicebot.call.voice import CallVoice
from voicebot.eventlog import CallEvent, EventLog
from voicebot.flow.events import (
    ActionRun,
    CallerEvent,
    IntentRecognized,
    RunEvent,
    StateEntered,
    TranscriptLine,
    TransitionTaken,
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
from voicebot.speech.tts.base import Synthesizer
from voicebot.telephony.leg import CallState, HangupCause, Leg, outcome_for

log = logging.getLogger(__name__)

MAX_CALL_S = 900.0
"""No call runs longer than this (a stuck far end must not hold a line for ever)."""


_DEFAULT_AMD = AmdParams()

VOICEMAIL_BEEP_WAIT_S = 30.0
"""How long to wait for a voicemail beep before leaving the message anyway."""

_FlowEnd = tuple[FlowResult | None, Outcome, str | None]
"""How the flow ended: its result (None when it broke or timed out), outcome and reason."""


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
        self.voice = CallVoice(
            leg, self.ears, self.log, self._audio, self._recorder, self.flow.locale
        )
        self.transfer = CallTransfer(
            leg, self.ears, self.voice, self._audio, self.log, hooks.handoff, self.flow.locale
        )
        self._last_intent: str | None = None

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
            why = getattr(self.leg, "reason", None)  # a gateway says why it failed
            said = f"not answered: {cause}" + (f" ({why})" if why else "")
            outcome = outcome_for(cause) or Outcome.FAILED
            self.log.add(CallEvent.OUTCOME, outcome=outcome.value)
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
        return await self._end(*await flow_run)

    async def _end(
        self, result: FlowResult | None, outcome: Outcome, reason: str | None
    ) -> CallReport:
        """The one place an answered call ends: hang up (unless the caller is bridged to an
        agent), wait for the line to end, and log the outcome, once. A line that dropped
        (nobody hung up) makes the call ``failed``."""
        bridge = self.transfer.bridge if outcome is Outcome.HANDOFF else None
        if bridge is None:
            await self._hang_up()
        else:  # the agent has the call: the outcome stands now, the conversation goes on
            self.log.add(CallEvent.OUTCOME, outcome=outcome.value, reason=reason)
        cause = await self.leg.wait_ended()
        if self.transfer.bridge is not None:
            await self.transfer.bridge
        assert self._answered_at is not None
        talk = self.log.clock() - self._answered_at
        await self.ears.stop()
        if outcome is Outcome.HUNG_UP and cause is HangupCause.FAILED:
            # the line dropped (a gateway died, the media failed): nobody hung up
            outcome = Outcome.FAILED
            reason = getattr(self.leg, "reason", None) or "the line failed during the call"
        if bridge is None:
            self.log.add(CallEvent.OUTCOME, outcome=outcome.value, reason=reason)
        return CallReport(
            outcome=outcome,
            reason=reason,
            answered=True,
            talk_seconds=round(talk, 3),
            states=result.states if result else (),
            variables=result.variables if result else {},
            transcript=result.transcript if result else (),
            log=self.log,
            recording=self._finish_recording(),
            hangup_cause=cause,
        )

    async def _hang_up(self) -> None:
        """Hang up the caller's line (nothing happens if it has ended already)."""
        if self.leg.state is not CallState.ENDED:
            await self.leg.hangup()

    async def _run_flow(self, spec: FlowSpec) -> _FlowEnd:
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

    async def _voicemail(self) -> _FlowEnd:
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

    # ---- FlowHost: the runner's requests, each handled by its room ------------------------

    async def say(self, prompt_id: str, text: str, *, barge_in: BargeIn) -> CallerEvent | None:
        """Play a prompt; return the caller event that cut it (see :class:`BargeIn`)."""
        return await self.voice.say(prompt_id, text, barge_in=barge_in)

    async def listen(self, spec: ListenSpec) -> CallerEvent:
        """The caller's next digit or words; silence until the timeout is ``NoInput``."""
        return await self.voice.listen(spec)

    async def opt_out(self) -> None:
        """Do-not-call, durably, before anything else is said."""
        await self.hooks.opt_out()
        if self.hooks.opt_out_durable:
            self.log.add(CallEvent.DNC_COMMITTED)

    async def handoff(self, handoff: Handoff, context: HandoffContext) -> bool:
        """Hand the caller to an agent (see :class:`CallTransfer`)."""
        return await self.transfer.handoff(handoff, context, self._last_intent)

    async def callback(self, when: str | None) -> None:
        """Ask the dialer for a callback."""
        if self.hooks.callback is not None:
            await self.hooks.callback(when)

    async def hangup(self) -> None:
        """The flow ends the call from the bot's side; :meth:`_end` logs how it ended."""
        await self._hang_up()
