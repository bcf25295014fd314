"""How the dialer places one call: a :class:`CallRunner` turns a dial request into how it ended.

For real campaigns the runner is :class:`SessionRunner`: the transport dials and a
:class:`~voicebot.call.session.CallSession` runs the flow with real speech. The dialer knows only
the small :class:`CallRunner` protocol, so a test can put an instant simulated media layer
(:mod:`voicebot.campaign.simulated`) under the real dialer, gate, store and clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from voicebot.call.archive import VaultRecordingSink, store_transcript
from voicebot.call.eventlog import EventLog
from voicebot.call.recording import RecordingSink
from voicebot.call.session import CallHooks, CallSession
from voicebot.campaign.results import TimelineEntry
from voicebot.compliance.policy import Policy
from voicebot.compliance.qa import CallWindow, check_call
from voicebot.compliance.qa_store import record_qa
from voicebot.compliance.qa_timing import DisclosureTiming
from voicebot.flow.loader import LoadedFlow
from voicebot.flow.machine import FlowSpec, compile_flow
from voicebot.flow.model import Purpose
from voicebot.outcomes import Outcome
from voicebot.privacy.vault.vault import Vault
from voicebot.speech.asr.base import Recognizer
from voicebot.speech.tts.base import Synthesizer
from voicebot.store import Store
from voicebot.telephony.leg import Transport

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


@dataclass(frozen=True)
class CallChecks:
    """What per-call QA needs besides the call: where results go, the policy (calling
    window), the purpose, and when the disclosure's sentences are heard."""

    store: Store
    policy: Policy
    purpose: Purpose
    timing: DisclosureTiming | None


class SessionRunner:
    """Real calls: dial on ``transport``, run ``loaded`` with real TTS and ASR.

    Args:
        transport: places the calls (loopback, Janus, ...).
        loaded: the campaign's flow with its prompts.
        synthesizer: speaks the prompts (pre-render the disclosure before the campaign).
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
        recognizer: Recognizer | None,
        recording: RecordingSink | None = None,
        vault: Vault | None = None,
        checks: CallChecks | None = None,
    ) -> None:
        self.transport = transport
        self.loaded = loaded
        self.spec: FlowSpec = compile_flow(loaded.flow)
        self.synthesizer = synthesizer
        self.recognizer = recognizer
        self.recording = recording
        self.vault = vault
        self.checks = checks

    async def __call__(self, request: CallRequest, hooks: CallHooks) -> CallEnd:
        """Dial, run the session, and report; a dial that fails is ``failed`` with the reason."""
        try:
            leg = await self.transport.dial(request.number, request.caller_id, request.ring_timeout)
        except Exception as exc:  # the network refused the dial: a failed attempt, say why
            return CallEnd(Outcome.FAILED, 0.0, f"dial failed: {type(exc).__name__}: {exc}")
        session = CallSession(
            leg,
            self.loaded,
            self.synthesizer,
            self.recognizer,
            hooks,
            variables=dict(request.variables),
            spec=self.spec,
            recording=(
                VaultRecordingSink(self.vault, request.attempt_id)
                if self.vault is not None
                else self.recording
            ),
            recording_name=f"attempt-{request.attempt_id}",
        )
        report = await session.run()
        if self.vault is not None and report.transcript:
            store_transcript(
                self.vault, request.attempt_id, report.transcript, self.loaded.flow.locale
            )
        failures: tuple[str, ...] = ()
        if self.checks is not None and report.answered:
            window = CallWindow.for_call(self.checks.policy, self.checks.purpose, request.number)
            result = check_call(report.log, self.loaded.flow, self.checks.timing, window)
            await record_qa(self.checks.store, request.attempt_id, result)
            failures = tuple(result.failures)
        given = set(request.variables) | {"company"}
        flow_set = {k: str(v) for k, v in report.variables.items() if k not in given}
        return CallEnd(
            report.outcome,
            report.talk_seconds,
            report.reason,
            timeline_of(report.log),
            failures,
            flow_set,
        )
