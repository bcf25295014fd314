"""``voicebot bench calls``: full calls (flow, TTS, ASR, DTMF, media) under load, measured.

N calls are kept running for S seconds on the loopback transport, each to a persona from a mix
that exercises every path the figures need (a digit opt-out, a spoken refusal, a key press).
The figures come from the calls' own event logs (monotonic timestamps) and from the process:

* CPU % and RSS per concurrent call. The simulated callees run in the same process, so these
  are for the bot *and* its callee; the bot alone costs less. Compare ratios within one run.
* answer -> disclosure start, end of caller speech -> first bot audio (p50/p95), and
  "9" heard -> do-not-call committed (p50/p99), in milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from voicebot.call.eventlog import CallEvent, EventLog
from voicebot.call.placement import CallPlan, place_call, prerender_disclosure
from voicebot.call.session import CallReport
from voicebot.flow.loader import load_flow
from voicebot.flow.machine import compile_flow
from voicebot.personas.book import load_personas
from voicebot.personas.callee import PersonaDirectory
from voicebot.resources import flows_dir
from voicebot.speech.asr.select import recognizer_for
from voicebot.speech.tts.select import synthesizer_for
from voicebot.telephony.leg import Transport
from voicebot.telephony.loadtest import rss_mb
from voicebot.telephony.loopback import LoopbackTransport

PERSONA_MIX = ("presses_nine", "not_interested", "presses_one", "asks_to_stop")


@dataclass
class CallFigures:
    """What a run of calls measured (milliseconds unless named otherwise)."""

    concurrency: int
    seconds: float
    calls: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    cpu_percent_per_call: float = 0.0
    rss_mb_before: float = 0.0
    rss_mb_per_call: float = 0.0
    answer_to_disclosure: list[float] = field(default_factory=list)
    speech_end_to_bot_audio: list[float] = field(default_factory=list)
    digit_to_dnc: list[float] = field(default_factory=list)
    gateway_cpu_percent_per_call: float | None = None
    """The SIP gateway's own CPU (Janus), when calls go through one."""


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation; None without values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, int(q) - 1))]


def latencies(log: EventLog, figures: CallFigures) -> None:
    """Add one call's latencies to ``figures``."""
    answer = log.first(CallEvent.ANSWER)
    first_prompt = log.first(CallEvent.PROMPT_START)
    if answer and first_prompt:
        figures.answer_to_disclosure.append(1000 * (first_prompt.t - answer.t))
    starts = [e.t for e in log.of(CallEvent.PROMPT_START)]
    for end in log.of(CallEvent.SPEECH_END):
        following = [t for t in starts if t >= end.t]
        if following:
            figures.speech_end_to_bot_audio.append(1000 * (following[0] - end.t))
    nine = next((e for e in log.of(CallEvent.DIGIT) if e.data.get("digit") == "9"), None)
    committed = log.first(CallEvent.DNC_COMMITTED)
    if nine and committed:
        figures.digit_to_dnc.append(1000 * (committed.t - nine.t))


class Carrier(Protocol):
    """Where the bench's calls go: something that gives each call number a transport."""

    async def prepare(self) -> None:
        """Get ready (render the far ends' lines, start gateways)."""

    def transport_for(self, number: str, index: int) -> Transport:
        """The transport that reaches ``number`` (the ``index``-th call)."""

    def gateway_cpu_seconds(self) -> float | None:
        """CPU the gateway process has used so far (None: no gateway)."""

    async def close(self) -> None:
        """Hang up what is left and release everything."""


class LoopbackCarrier:
    """Personas from :data:`PERSONA_MIX` answer, over aiortc on loopback in this process."""

    def __init__(self) -> None:
        self.directory: PersonaDirectory | None = None
        self.transport: LoopbackTransport | None = None

    async def prepare(self) -> None:
        voice = await synthesizer_for("en-US")
        self.directory = PersonaDirectory(load_personas(), voice)
        self.transport = LoopbackTransport(self.directory)
        for persona in PERSONA_MIX:  # their lines too: the first calls measure calls, not TTS
            for step in self.directory.personas[persona].script:
                if step.say:
                    await voice.render(step.say)

    def transport_for(self, number: str, index: int) -> Transport:
        assert self.directory is not None and self.transport is not None
        self.directory.assign(number, PERSONA_MIX[index % len(PERSONA_MIX)])
        return self.transport

    def gateway_cpu_seconds(self) -> float | None:
        return None

    async def close(self) -> None:
        if self.transport is not None:
            await self.transport.close()


async def run_calls(
    concurrency: int,
    seconds: float,
    flow_file: Path | None = None,
    on_call: Callable[[CallReport], None] | None = None,
    carrier: Carrier | None = None,
) -> CallFigures:
    """Keep ``concurrency`` calls going for ``seconds`` on ``carrier`` (default: loopback
    personas); measure them."""
    carrier = carrier or LoopbackCarrier()
    loaded = load_flow(flow_file or flows_dir() / "satisfaction_survey.yaml")
    spec = compile_flow(loaded.flow)
    synthesizer = await synthesizer_for(loaded.flow.locale)
    recognizer = recognizer_for(loaded.flow.locale)
    figures = CallFigures(concurrency, seconds)
    await prerender_disclosure(loaded, synthesizer)
    await carrier.prepare()
    figures.rss_mb_before = rss_mb()
    deadline = time.monotonic() + seconds
    cpu_start, wall_start = os.times(), time.monotonic()
    gateway_start = carrier.gateway_cpu_seconds()
    peak_rss = figures.rss_mb_before
    counter = 0

    async def worker() -> None:
        nonlocal counter, peak_rss
        while time.monotonic() < deadline:
            counter += 1
            number = f"+1202555{counter % 10000:04d}"
            transport = carrier.transport_for(number, counter)
            plan = CallPlan(number, loaded, "bench", "+12025550100", {"name": "Alex"}, spec=spec)
            placed = await place_call(plan, transport, synthesizer, recognizer, gate=None)
            report = placed.report
            assert report is not None
            figures.calls += 1
            figures.outcomes[report.outcome.value] = (
                figures.outcomes.get(report.outcome.value, 0) + 1
            )
            latencies(report.log, figures)
            peak_rss = max(peak_rss, rss_mb())
            if on_call is not None:
                on_call(report)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        gateway_end = carrier.gateway_cpu_seconds()
    finally:
        await carrier.close()
    cpu_end, wall = os.times(), time.monotonic() - wall_start
    cpu = (cpu_end.user - cpu_start.user) + (cpu_end.system - cpu_start.system)
    figures.cpu_percent_per_call = 100 * cpu / wall / concurrency
    figures.rss_mb_per_call = (peak_rss - figures.rss_mb_before) / concurrency
    if gateway_start is not None and gateway_end is not None:
        figures.gateway_cpu_percent_per_call = (
            100 * (gateway_end - gateway_start) / wall / concurrency
        )
    return figures
