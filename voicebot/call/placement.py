"""One compliant call: ask the gate, dial, run the session, archive, check, record the outcome.

This is the one path of every call. ``voicebot call`` goes through :func:`place_call`; the
dialer asks the gate itself (it plans retries around the decision) and then places the call
through :class:`~voicebot.campaign.runner.SessionRunner`, which runs the same
:func:`run_call` with the same :func:`opt_out_hook`. So both honour the same policy the same
way: the gate reserves the attempt before the network is touched, the do-not-call entry of an
opt-out is written durably from inside the call (before the goodbye) in the policy's
``opt_out_scope``, the recording and redacted transcript go to the vault, the per-call QA
checklist is stored, and the outcome is recorded once the call is over.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from voicebot.call.archive import VaultRecordingSink, store_transcript
from voicebot.call.recording import RecordingSink
from voicebot.call.session import CallHooks, CallReport, CallSession
from voicebot.compliance import dnc
from voicebot.compliance.decision import Decision
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import Policy
from voicebot.eventlog import EventLog
from voicebot.flow.loader import LoadedFlow
from voicebot.flow.machine import FlowSpec, compile_flow
from voicebot.privacy import mask_number
from voicebot.privacy.vault.vault import Vault
from voicebot.purpose import Purpose
from voicebot.qa.checks import CallWindow, check_call
from voicebot.qa.store import record_qa
from voicebot.qa.timing import DisclosureTiming
from voicebot.speech.asr.stream import UtteranceSource
from voicebot.speech.tts.base import Synthesizer
from voicebot.store import Store
from voicebot.telephony.leg import Leg, Transport

log = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    """The real clock (tests and the dialer pass their own)."""
    return dt.datetime.now(dt.UTC)


@dataclass
class CallPlan:
    """Whom to call with what."""

    number: str
    loaded: LoadedFlow
    campaign: str
    caller_id: str
    variables: dict[str, object] = field(default_factory=dict)
    ring_timeout: float = 30.0
    spec: FlowSpec | None = None


@dataclass(frozen=True)
class PlacedCall:
    """The gate's decision and, when the call was placed, how it went."""

    decision: Decision | None
    report: CallReport | None
    qa_failures: tuple[str, ...] = ()
    """Per-call QA checks the call failed (empty: passed, or QA not run)."""


@dataclass(frozen=True)
class CallChecks:
    """What per-call QA needs besides the call: where results go, the policy (calling
    window), the purpose, and when the disclosure's sentences are heard."""

    store: Store
    policy: Policy
    purpose: Purpose
    timing: DisclosureTiming | None


@dataclass
class CallKit:
    """What every call of one flow needs, whoever places it: the carrier, the flow, the voices,
    and where recordings, transcripts and QA results go.

    Args:
        recording: where recordings go; None records nothing (ignored when ``vault`` is set).
        vault: encrypted storage for each call's recording and redacted transcript.
        checks: run and store the per-call QA checklist after each answered call.
    """

    transport: Transport
    loaded: LoadedFlow
    synthesizer: Synthesizer
    recognizer: UtteranceSource | None
    recording: RecordingSink | None = None
    vault: Vault | None = None
    checks: CallChecks | None = None
    spec: FlowSpec | None = None

    def __post_init__(self) -> None:
        if self.spec is None:
            self.spec = compile_flow(self.loaded.flow)
        self._rendering = asyncio.Lock()
        self._rendered = False

    async def prepare(self) -> None:
        """Render the disclosure once, before the first dial (later calls find it ready)."""
        async with self._rendering:
            if not self._rendered:
                await prerender_disclosure(self.loaded, self.synthesizer)
                self._rendered = True


@dataclass(frozen=True)
class CallRun:
    """How a dialled call went, and which QA checks it failed."""

    report: CallReport
    qa_failures: tuple[str, ...] = ()


async def prerender_disclosure(loaded: LoadedFlow, synthesizer: Synthesizer) -> None:
    """Render the disclosure before any dial: during a call it is only played from the cache,
    so it can never be late or missing because synthesis was slow (a cache hit is instant)."""
    assert loaded.prompts is not None
    text = loaded.prompts.render(loaded.flow.disclosure, {"company": loaded.flow.company})
    await synthesizer.render(text)


def opt_out_hook(
    gate: Gate,
    number: str,
    campaign: str,
    attempt_id: int | None,
    clock: Callable[[], dt.datetime],
) -> Callable[[], Awaitable[None]]:
    """The in-call opt-out: the do-not-call entry, durable before the bot says goodbye, in the
    scope the policy names (``opt_out_scope``: everywhere, or only ``campaign``). The outcome
    rules add it again, idempotently, when the call is recorded."""

    async def opt_out() -> None:
        scope = campaign if gate.policy.do_not_call.opt_out_scope == "campaign" else None
        await dnc.add(
            gate.store, gate.policy, number, scope, f"opt-out during attempt {attempt_id}", clock()
        )

    return opt_out


async def run_call(
    kit: CallKit,
    leg: Leg,
    number: str,
    attempt_id: int | None,
    variables: Mapping[str, object],
    hooks: CallHooks,
    log_listeners: list[Callable[[Any], None]] | None = None,
) -> CallRun:
    """Run the flow on a dialled ``leg``, then archive the call and check it (QA)."""
    event_log = EventLog()
    event_log.listeners.extend(log_listeners or [])
    recording = kit.recording
    if kit.vault is not None and attempt_id is not None:
        recording = VaultRecordingSink(kit.vault, attempt_id)
    session = CallSession(
        leg,
        kit.loaded,
        kit.synthesizer,
        kit.recognizer,
        hooks,
        variables=dict(variables),
        spec=kit.spec,
        log=event_log,
        recording=recording,
        recording_name=f"attempt-{attempt_id}" if attempt_id else "call",
    )
    report = await session.run()
    if kit.vault is not None and attempt_id is not None and report.transcript:
        store_transcript(kit.vault, attempt_id, report.transcript, kit.loaded.flow.locale)
    failures: tuple[str, ...] = ()
    if kit.checks is not None and attempt_id is not None and report.answered:
        checks = kit.checks
        window = CallWindow.for_call(checks.policy, checks.purpose, number)
        result = check_call(report.log, kit.loaded.flow, checks.timing, window)
        await record_qa(checks.store, attempt_id, result)
        failures = tuple(result.failures)
    return CallRun(report, failures)


async def place_call(
    plan: CallPlan,
    transport: Transport,
    synthesizer: Synthesizer,
    recognizer: UtteranceSource | None,
    *,
    gate: Gate | None,
    clock: Callable[[], dt.datetime] = utc_now,
    log_listeners: list[Callable[[Any], None]] | None = None,
    recording: RecordingSink | None = None,
    vault: Vault | None = None,
    checks: CallChecks | None = None,
) -> PlacedCall:
    """Place one call through the gate (``gate=None`` only for simulated callees).

    Raises:
        Exception: whatever the transport raised while dialling; the reservation is released.
    """
    flow = plan.loaded.flow
    kit = CallKit(
        transport, plan.loaded, synthesizer, recognizer, recording, vault, checks, plan.spec
    )
    await kit.prepare()
    decision: Decision | None = None
    if gate is not None:
        decision = await gate.check_and_reserve(plan.number, plan.campaign, flow.purpose, clock())
        if not decision.allowed:
            return PlacedCall(decision, None)
    attempt = decision.attempt_id if decision is not None else None
    try:
        leg = await transport.dial(plan.number, plan.caller_id, plan.ring_timeout)
    except BaseException:
        if gate is not None and attempt is not None:
            await gate.release(attempt, clock())
        raise

    if gate is None:

        async def opt_out() -> None:
            log.info("opt-out from %s (no store: simulated callee)", mask_number(plan.number))

        hooks = CallHooks(opt_out, opt_out_durable=False)
    else:
        hooks = CallHooks(opt_out_hook(gate, plan.number, plan.campaign, attempt, clock))
    run = await run_call(kit, leg, plan.number, attempt, plan.variables, hooks, log_listeners)
    report = run.report
    if gate is not None and attempt is not None:
        await gate.record_outcome(attempt, report.outcome, report.talk_seconds, clock())
    return PlacedCall(decision, report, run.qa_failures)
