"""How the dialer places one call: a :class:`CallRunner` turns a dial request into how it ended.

For real campaigns the runner is :class:`SessionRunner`: the transport dials and a
:class:`~voicebot.call.session.CallSession` runs the flow with real speech. The dialer knows only
the small :class:`CallRunner` protocol, so a test can put an instant simulated media layer
(:mod:`voicebot.sim.scripted_runner`) under the real dialer, gate, store and clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from voicebot.call.placement import CallChecks, CallKit, run_call
from voicebot.call.recording import RecordingSink
from voicebot.call.session import CallHooks
from voicebot.campaign.results import TimelineEntry
from voicebot.eventlog import EventLog
from voicebot.flow.loader import LoadedFlow
from voicebot.outcomes import Outcome
from voicebot.privacy.vault.vault import Vault
from voicebot.speech.asr.stream import UtteranceSource
from voicebot.speech.tts.base import Synthesizer
from voicebot.telephony.leg import Transport

__all__ = ["CallChecks", "CallEnd", "CallRequest", "CallRunner", "SessionRunner", "timeline_of"]

_TIMELINE_KEYS = (
    "prompt",
    "digit",
    "text",
    "intent",
    "state",
    "outcome",
    "reason",
    "cause",
    "queue",
    "accepted",
)


@dataclass(frozen=True)
class CallRequest:
    """One dial the gate allowed: who, from which caller id, with which flow variables."""

    number: str
    caller_id: str
    variables: Mapping[str, str]
    attempt_id: int
    ring_timeout: float


@dataclass(frozen=True)
class CallEnd:
    """How one call ended, as the dialer records it."""

    outcome: Outcome
    talk_seconds: float = 0.0
    reason: str | None = None
    timeline: tuple[TimelineEntry, ...] = field(default_factory=tuple)
    qa_failures: tuple[str, ...] = ()
    """Per-call QA checks the call failed (empty: passed, or QA not run)."""
    variables: dict[str, str] = field(default_factory=dict)
    """What the flow set during the call (e.g. ``rating``), for the results export."""


class CallRunner(Protocol):
    """Places one call and runs it to its end; never raises for a call that went wrong."""

    async def __call__(self, request: CallRequest, hooks: CallHooks) -> CallEnd:
        """Dial ``request.number`` and run the call; ``hooks`` reach the store."""
        ...


def timeline_of(log: EventLog) -> tuple[TimelineEntry, ...]:
    """A call's event log as short report lines (no numbers: the log holds none)."""
    entries = []
    for entry in log.entries:
        text = " ".join(
            f"{key}={entry.data[key]}" for key in _TIMELINE_KEYS if entry.data.get(key) is not None
        )
        entries.append(TimelineEntry(round(entry.t, 2), entry.kind.value, text))
    return tuple(entries)


class SessionRunner:
    """Real calls: dial on ``transport``, run ``loaded`` with real TTS and ASR.

    The call itself runs on the one path of every call (:func:`voicebot.call.placement.run_call`,
    as ``voicebot call`` does); the dialer has asked the gate and records the outcome.

    Args:
        transport: places the calls (loopback, Janus, ...).
        loaded: the campaign's flow with its prompts.
        synthesizer: speaks the prompts (the disclosure is rendered before the first dial).
        recognizer: hears the callee; None runs the flow on keys only.
        recording: where recordings go; None records nothing (ignored when ``vault`` is set).
        vault: encrypted storage for each call's recording and redacted transcript.
        checks: run and store the per-call QA checklist after each call.
    """

    def __init__(
        self,
        transport: Transport,
        loaded: LoadedFlow,
        synthesizer: Synthesizer,
        recognizer: UtteranceSource | None,
        recording: RecordingSink | None = None,
        vault: Vault | None = None,
        checks: CallChecks | None = None,
    ) -> None:
        self.kit = CallKit(transport, loaded, synthesizer, recognizer, recording, vault, checks)

    async def __call__(self, request: CallRequest, hooks: CallHooks) -> CallEnd:
        """Dial, run the call, and report; a dial that fails is ``failed`` with the reason."""
        kit = self.kit
        await kit.prepare()  # never a dial without the disclosure ready to play
        try:
            leg = await kit.transport.dial(request.number, request.caller_id, request.ring_timeout)
        except Exception as exc:  # the network refused the dial: a failed attempt, say why
            return CallEnd(Outcome.FAILED, 0.0, f"dial failed: {type(exc).__name__}: {exc}")
        run = await run_call(kit, leg, request.number, request.attempt_id, request.variables, hooks)
        report = run.report
        given = set(request.variables) | {"company"}
        flow_set = {k: str(v) for k, v in report.variables.items() if k not in given}
        return CallEnd(
            report.outcome,
            report.talk_seconds,
            report.reason,
            timeline_of(report.log),
            run.qa_failures,
            flow_set,
        )
