"""One compliant call: ask the gate, dial, run the session, record the outcome.

Every dial goes through here (``voicebot call``; the dialer places each attempt the same way):
the gate reserves the attempt before the network is touched, a dial that never reached the
network gives the reservation back, the do-not-call entry of an opt-out is written durably from
inside the call (before the goodbye), and the outcome is recorded once the call is over.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voicebot.call.eventlog import EventLog
from voicebot.call.recording import RecordingSink
from voicebot.call.session import CallHooks, CallReport, CallSession
from voicebot.compliance import dnc
from voicebot.compliance.decision import Decision
from voicebot.compliance.gate import Gate
from voicebot.flow.loader import LoadedFlow
from voicebot.flow.machine import FlowSpec, compile_flow
from voicebot.privacy import mask_number
from voicebot.speech.asr.stream import UtteranceSource
from voicebot.speech.tts.base import Synthesizer
from voicebot.telephony.leg import Transport

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


async def prerender_disclosure(loaded: LoadedFlow, synthesizer: Synthesizer) -> None:
    """Render the disclosure before any dial: during a call it is only played from the cache,
    so it can never be late or missing because synthesis was slow (a cache hit is instant)."""
    assert loaded.prompts is not None
    text = loaded.prompts.render(loaded.flow.disclosure, {"company": loaded.flow.company})
    await synthesizer.render(text)


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
) -> PlacedCall:
    """Place one call through the gate (``gate=None`` only for simulated callees).

    Raises:
        Exception: whatever the transport raised while dialling; the reservation is released.
    """
    flow = plan.loaded.flow
    await prerender_disclosure(plan.loaded, synthesizer)
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

    async def opt_out() -> None:
        if gate is None:
            log.info("opt-out from %s (no store: simulated callee)", mask_number(plan.number))
            return
        await dnc.add(
            gate.store,
            gate.policy,
            plan.number,
            None,
            f"opt-out during call attempt {attempt}",
            clock(),
        )

    event_log = EventLog()
    event_log.listeners.extend(log_listeners or [])
    session = CallSession(
        leg,
        plan.loaded,
        synthesizer,
        recognizer,
        CallHooks(opt_out, opt_out_durable=gate is not None),
        variables=plan.variables,
        spec=plan.spec or compile_flow(flow),
        log=event_log,
        recording=recording,
        recording_name=f"attempt-{attempt}" if attempt else "call",
    )
    report = await session.run()
    if gate is not None and attempt is not None:
        await gate.record_outcome(attempt, report.outcome, report.talk_seconds, clock())
    return PlacedCall(decision, report)
