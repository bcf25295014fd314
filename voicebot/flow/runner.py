"""Run one call through a compiled flow; a :class:`FlowHost` does all the talking and hearing.

The runner owns the conversation rules, the host owns the I/O. The live call session (audio,
ASR, DTMF detection, transfer) and the text simulator are both hosts, so every rule below is
the same on a real call and in ``voicebot flow simulate``:

* A state runs its ``do`` actions in order, then says its ``say`` prompts, then ends, moves on
  (``next``) or listens. An ``opt_out`` action therefore returns (durable) before anything the
  opt-out state says.
* ``9`` at any moment, also as a barge-in during any prompt (the disclosure too, which nothing
  else may interrupt), goes at once to the opt-out path. So does a spoken opt-out, anywhere.
* A barge-in during a listening state's prompts stops the remaining prompts and counts as that
  state's input; elsewhere it is heard (opt-out, hangup) or ignored, and the prompts go on.
* Words are classified by the intent recognizer, restricted to what the state can hear. A digit
  or words the state has no route for are ``no_match``. Retries re-prompt (``listen.reprompt``,
  else the state's own ``say``) before ``no_input``/``no_match`` fire.
* A hangup at any moment goes to the ``hangup`` handler (which may still record things, but
  says nothing) or ends ``hung_up``.
* Handoff: the hold prompt is said, then the host transfers; an agent accepted -> outcome
  ``handoff``; otherwise the handoff's ``fallback``.
* At most ``max_transitions`` per call; beyond that the call ends ``failed`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from voicebot.flow.events import (
    ActionRun,
    CallerEvent,
    CallerEventHeard,
    Dtmf,
    Hangup,
    IntentRecognized,
    NoInput,
    OutcomeReached,
    PromptEnded,
    PromptInterrupted,
    PromptStarted,
    RunEvent,
    StateEntered,
    TranscriptLine,
    TransitionTaken,
    Utterance,
    caller_text,
)
from voicebot.flow.host import (
    BargeIn,
    FlowHost,
    FlowResult,
    HandoffContext,
    IntentReader,
    ListenSpec,
)
from voicebot.flow.machine import FlowSpec, dtmf_trigger, intent_trigger
from voicebot.flow.model import VARIABLE_RE, Action, Handoff
from voicebot.flow.prompts import PromptCatalog
from voicebot.outcomes import Outcome

DEFAULT_LISTEN_TIMEOUT = 5.0
"""Seconds of silence before ``no_input`` when a state's ``listen`` names no timeout."""
DEFAULT_MAX_TRANSITIONS = 100
"""Transitions allowed per call before the runner calls the flow a loop."""


@dataclass(frozen=True)
class _Move:
    trigger: str


@dataclass(frozen=True)
class _End:
    outcome: Outcome
    reason: str | None = None


_Step = _Move | _End


def _real_recognizer() -> IntentReader:
    from voicebot.speech.intent import recognize

    return recognize


def prompts_used(spec: FlowSpec) -> list[str]:
    """Every prompt id the flow may say, in first-use order (said, reprompts, handoff)."""
    seen: dict[str, None] = {}
    for state in spec.flow.states.values():
        seen.update(dict.fromkeys(state.say))
        if state.listen is not None:
            seen.update(dict.fromkeys(state.listen.reprompt))
        for action in state.do:
            if action.handoff is not None:
                for pid in (action.handoff.hold, action.handoff.whisper):
                    if pid is not None:
                        seen[pid] = None
    return list(seen)


class FlowRunner:
    """Runs one call: create one per call, then ``await run()`` once.

    Args:
        spec: the compiled flow (shared by all calls).
        prompts: the approved texts of the flow's locale.
        host: the call's I/O.
        variables: the contact's values for ``{variables}``; ``company`` is built in.
        recognizer: classifies words; default :func:`voicebot.speech.intent.recognize`.
        on_event: called with every :data:`~voicebot.flow.events.RunEvent`, in order.
        max_transitions: transitions allowed before the call ends ``failed`` (a loop).

    Raises:
        ValueError: a prompt the flow uses is missing, or needs a variable nobody provides;
            found before the call starts, not in the middle of it.
    """

    def __init__(
        self,
        spec: FlowSpec,
        prompts: PromptCatalog,
        host: FlowHost,
        *,
        variables: Mapping[str, object] | None = None,
        recognizer: IntentReader | None = None,
        on_event: Callable[[RunEvent], None] | None = None,
        max_transitions: int = DEFAULT_MAX_TRANSITIONS,
    ) -> None:
        self.spec = spec
        self.flow = spec.flow
        self._prompts = prompts
        self._host = host
        self._recognize = recognizer if recognizer is not None else _real_recognizer()
        self._on_event = on_event
        self._max_transitions = max_transitions
        self._variables: dict[str, object] = {**(variables or {}), "company": self.flow.company}
        self._check_prompts()
        self._machine = spec.new_machine()
        self._states: list[str] = []
        self._transcript: list[TranscriptLine] = []
        self._transitions = 0
        self._caller_gone = False
        self._started = False

    def _check_prompts(self) -> None:
        settable = {k for s in self.flow.states.values() for a in s.do if a.set for k in a.set}
        known = set(self._variables) | settable
        problems = []
        for pid in prompts_used(self.spec):
            if pid not in self._prompts:
                problems.append(f"prompt {pid!r} is not in the {self._prompts.locale} prompts")
            elif missing := sorted(self._prompts.variables(pid) - known):
                problems.append(f"prompt {pid!r} needs {', '.join(missing)}")
        if problems:
            raise ValueError(f"flow {self.flow.name or self.flow.start}: " + "; ".join(problems))

    # ---- the call ----------------------------------------------------------------------

    async def run(self) -> FlowResult:
        """Run the call from the start state to an outcome.

        Exceptions from the host (a dropped media path, a failed do-not-call write) propagate:
        the call session decides what the call's outcome is then.
        """
        if self._started:
            raise RuntimeError("a FlowRunner runs one call; create another for the next")
        self._started = True
        state = self._machine.state
        while True:
            self._states.append(state)
            self._emit(StateEntered(state, self.flow.states[state].sensitive))
            step = await self._run_state(state)
            if isinstance(step, _End):
                return await self._finish(state, step)
            if self._transitions >= self._max_transitions:
                reason = (
                    f"more than {self._max_transitions} transitions; the flow loops "
                    f"(last states: {' -> '.join(self._states[-5:])})"
                )
                return await self._finish(state, _End(Outcome.FAILED, reason))
            state = await self._fire(state, step.trigger)

    async def _fire(self, source: str, trigger: str) -> str:
        self._transitions += 1
        dest = self.spec.target(source, trigger)
        state = await self._machine.fire(trigger)
        self._emit(TransitionTaken(trigger, source, dest))
        return state

    async def _finish(self, state: str, end: _End) -> FlowResult:
        if not self._caller_gone and end.outcome is not Outcome.HANDOFF:
            await self._host.hangup()
        self._emit(OutcomeReached(end.outcome, state, end.reason))
        return FlowResult(
            outcome=end.outcome,
            reason=end.reason,
            states=tuple(self._states),
            variables=MappingProxyType(dict(self._variables)),
            transcript=tuple(self._transcript),
        )

    async def _run_state(self, name: str) -> _Step:
        state = self.flow.states[name]
        for action in state.do:
            step = await self._act(name, action)
            if step is not None:
                return step
        if self._caller_gone:
            return self._after_hangup(name)
        listening = state.listen is not None
        prompts: Sequence[str] = state.say
        while prompts:
            interrupted, rest = await self._say(name, prompts)
            prompts = rest
            if interrupted is None:
                break
            if listening:
                return await self._listen(name, interrupted)
            step = await self._heard_aside(name, interrupted)
            if step is not None:
                return step
        if state.end is not None:
            return _End(state.end)
        if state.next is not None:
            return _Move("next")
        if listening:
            return await self._listen(name, None)
        return _End(Outcome.FAILED, f"state {name!r} has no end, next or listen: a dead end")

    def _after_hangup(self, name: str) -> _Step:
        """The caller is gone: nothing more is said; ends and ``next`` still count."""
        state = self.flow.states[name]
        if state.end is not None:
            return _End(state.end)
        if state.next is not None:
            return _Move("next")
        return _End(Outcome.HUNG_UP, "the caller hung up")

    # ---- actions ------------------------------------------------------------------------

    async def _act(self, name: str, action: Action) -> _Step | None:
        if action.opt_out:
            await self._host.opt_out()
            self._emit(ActionRun(name, "opt_out", "number on the do-not-call list (durable)"))
        elif action.hangup:
            self._emit(ActionRun(name, "hangup", "the bot ends the call"))
            return _End(self.flow.states[name].end or Outcome.COMPLETED)
        elif action.callback is not None:
            when = action.callback.when
            rendered = self._render_text(when) if when is not None else None
            await self._host.callback(rendered)
            self._emit(ActionRun(name, "callback", f"call back {rendered or 'at the next slot'}"))
        elif action.set is not None:
            self._variables.update(action.set)
            detail = ", ".join(f"{k}={v}" for k, v in action.set.items())
            self._emit(ActionRun(name, "set", detail))
        elif action.handoff is not None:
            return await self._handoff(name, action.handoff)
        return None

    async def _handoff(self, name: str, handoff: Handoff) -> _Step | None:
        if self._caller_gone:
            self._emit(ActionRun(name, "handoff", f"queue {handoff.queue}: caller gone"))
            return _End(Outcome.HUNG_UP, "the caller hung up before the handoff")
        if handoff.hold is not None:
            interrupted, _ = await self._say(name, [handoff.hold])
            if interrupted is not None:
                step = await self._heard_aside(name, interrupted)
                if step is not None:
                    return step
        context = HandoffContext(
            flow=self.flow.name or "",
            state=name,
            variables=MappingProxyType(dict(self._variables)),
            transcript=tuple(self._transcript),
            whisper=self._render(handoff.whisper) if handoff.whisper else None,
            hold=self._render(handoff.hold) if handoff.hold else None,
        )
        accepted = await self._host.handoff(handoff, context)
        verdict = "an agent accepted" if accepted else "no agent accepted"
        self._emit(ActionRun(name, "handoff", f"queue {handoff.queue}: {verdict}"))
        if accepted:
            return _End(Outcome.HANDOFF)
        if self.spec.can(name, "fallback"):
            return _Move("fallback")
        return None

    # ---- speaking -----------------------------------------------------------------------

    async def _say(
        self, name: str, prompts: Sequence[str]
    ) -> tuple[CallerEvent | None, Sequence[str]]:
        """Say prompts in order; on a barge-in return it with the prompts not yet started."""
        for i, pid in enumerate(prompts):
            text = self._render(pid)
            mode = BargeIn.OPT_OUT_ONLY if pid == self.flow.disclosure else BargeIn.ANY
            self._emit(PromptStarted(name, pid, text))
            self._transcript.append(TranscriptLine("bot", text))
            event = await self._host.say(pid, text, barge_in=mode)
            if event is None:
                self._emit(PromptEnded(name, pid))
                continue
            self._emit(PromptInterrupted(name, pid, event))
            event = self._heard(name, event)
            if mode is BargeIn.OPT_OUT_ONLY and not (
                isinstance(event, Hangup) or (isinstance(event, Dtmf) and event.is_opt_out)
            ):
                continue  # the host broke the contract; the disclosure does not yield to it
            return event, prompts[i + 1 :]
        return None, ()

    def _render(self, prompt_id: str) -> str:
        return self._prompts.render(prompt_id, self._variables)

    def _render_text(self, text: str) -> str:
        return VARIABLE_RE.sub(lambda m: str(self._variables.get(m.group(1), m.group(0))), text)

    # ---- hearing ------------------------------------------------------------------------

    def _heard(self, name: str, event: CallerEvent) -> CallerEvent:
        """Record a caller event (words classified for ``name`` first); return it as heard."""
        if isinstance(event, Utterance):
            event = self._classify(name, event)
        self._emit(CallerEventHeard(name, event))
        if not isinstance(event, NoInput):
            self._transcript.append(TranscriptLine("caller", caller_text(event)))
        if isinstance(event, Hangup):
            self._caller_gone = True
        return event

    def _classify(self, name: str, utterance: Utterance) -> Utterance:
        """Recognize the intent of words among those ``name`` can hear. Words the host has
        read already (an opt-out heard over the disclosure) keep that reading: they are
        classified once."""
        allowed = tuple(sorted(self.spec.intents_heard(name)))
        intent: str | None = None
        score = 0.0
        if utterance.intent is not None:
            if utterance.intent in allowed:
                intent, score = utterance.intent, utterance.score
        elif allowed:
            match = self._recognize(utterance.text, self.flow.locale, allowed)
            if match.intent in allowed:
                intent, score = match.intent, match.score
        self._emit(IntentRecognized(name, utterance.text, intent, score, allowed))
        return replace(utterance, intent=intent, score=score)

    async def _heard_aside(self, name: str, event: CallerEvent) -> _Step | None:
        """A barge-in in a state that does not listen: only routes that exist everywhere
        (opt-out, hangup) count; anything else is ignored and the prompts go on."""
        trigger = self._trigger_for(event)
        if trigger is None or not self.spec.can(name, trigger):
            return await self._unrouted(name, event)
        if self.spec.target(name, trigger) is None:
            await self._fire(name, trigger)
            return None
        return _Move(trigger)

    async def _unrouted(self, name: str, event: CallerEvent) -> _Step | None:
        """An event with no route from ``name``: hangups and the opt-out digit still end."""
        if isinstance(event, Hangup):
            state = self.flow.states[name]
            if state.end is not None:
                return _End(state.end, "the caller hung up during the last prompts")
            return _End(Outcome.HUNG_UP, "the caller hung up")
        if isinstance(event, Dtmf) and event.is_opt_out and self.spec.opt_out_target is None:
            # The lint refuses such a flow; should one run anyway, "9" still opts out.
            await self._host.opt_out()
            self._emit(ActionRun(name, "opt_out", "number on the do-not-call list (durable)"))
            return _End(Outcome.OPTED_OUT, "opt-out digit in a flow without an opt-out state")
        return None

    @staticmethod
    def _trigger_for(event: CallerEvent) -> str | None:
        """The trigger a (classified) event means; None for words with no intent."""
        if isinstance(event, Dtmf):
            return dtmf_trigger(event.digit)
        if isinstance(event, NoInput):
            return "no_input"
        if isinstance(event, Hangup):
            return "hangup"
        return intent_trigger(event.intent) if event.intent is not None else None

    async def _listen(self, name: str, first: CallerEvent | None) -> _Step:
        """Listen until an event with a route, re-prompting on silence or no match."""
        state = self.flow.states[name]
        listen = state.listen
        assert listen is not None
        attempt = 0
        pending = first
        while True:
            if pending is None:
                event = self._heard(name, await self._host.listen(self._listen_spec(name, attempt)))
            else:
                event, pending = pending, None
            trigger = self._trigger_for(event)
            if trigger is not None and trigger != "no_input" and self.spec.can(name, trigger):
                if self.spec.target(name, trigger) is not None:
                    return _Move(trigger)
                await self._fire(name, trigger)  # internal: stay and keep listening
                continue
            end = await self._unrouted(name, event)
            if end is not None:
                return end
            failed = "no_input" if isinstance(event, NoInput) else "no_match"
            if attempt < listen.retries:
                attempt += 1
                pending, _ = await self._say(name, listen.reprompt or state.say)
                continue
            if self.spec.can(name, failed):
                return _Move(failed)
            return _End(Outcome.FAILED, f"state {name!r} has no route for {failed}")

    def _listen_spec(self, name: str, attempt: int) -> ListenSpec:
        listen = self.flow.states[name].listen
        timeout = listen.timeout if listen is not None and listen.timeout else None
        return ListenSpec(
            state=name,
            timeout=timeout or DEFAULT_LISTEN_TIMEOUT,
            dtmf=self.spec.digits_heard(name),
            intents=tuple(sorted(self.spec.intents_heard(name))),
            attempt=attempt,
        )

    def _emit(self, event: RunEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)


__all__ = [
    "DEFAULT_LISTEN_TIMEOUT",
    "DEFAULT_MAX_TRANSITIONS",
    "BargeIn",
    "FlowHost",
    "FlowResult",
    "FlowRunner",
    "HandoffContext",
    "IntentReader",
    "ListenSpec",
    "prompts_used",
]
