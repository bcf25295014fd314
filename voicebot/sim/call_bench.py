"""``voicebot bench calls``: full calls (flow, TTS, ASR, DTMF, media) under load, measured.

N calls are kept running for S seconds, each to a persona from a mix that exercises every path
the figures need (a digit opt-out, a spoken refusal, a spoken opt-out, a key press). By default
the personas run in a process of their own (:mod:`voicebot.sim.call_bench_callees`) and speech is
recognized by a recognizer pool (worker processes), so the figures separate:

* CPU % of one core per concurrent call: the bot (its main process plus its recognizer
  workers) apart from the simulated callees; RSS of the bot's main process per call.
* reply latency as the caller hears it: from the last voiced frame the callee sent to the
  first loud bot frame it received, for replies to words (replies to keys apart); and the same
  from the bot's log (last voice, as dated by the end-of-speech detector, to the next prompt),
  speech ends without words (a key tone, noise) counted apart.
* answer -> disclosure start and "9" heard -> do-not-call committed, from the calls' logs.
* event-loop lag of the bot's process (a 10 ms timer's lateness), p99 and max.
* outcomes, per persona, against what each persona should produce.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from voicebot.call.placement import CallPlan, place_call, prerender_disclosure
from voicebot.call.session import CallReport
from voicebot.eventlog import CallEvent, EventLog
from voicebot.flow.loader import load_flow
from voicebot.flow.machine import compile_flow
from voicebot.resources import flows_dir
from voicebot.sim.loopback_load import rss_mb
from voicebot.sim.personas.book import load_personas
from voicebot.sim.personas.callee import PersonaDirectory
from voicebot.speech.asr.pool import RecognizerPool
from voicebot.speech.asr.select import recognizer_for
from voicebot.speech.asr.stream import UtteranceSource
from voicebot.speech.tts.select import synthesizer_for
from voicebot.telephony.leg import Transport
from voicebot.telephony.loopback import LoopbackTransport

PERSONA_MIX = ("presses_nine", "not_interested", "presses_one", "asks_to_stop")
EXPECTED_OUTCOMES = {
    "presses_nine": "opted_out",
    "not_interested": "refused",
    "presses_one": "completed",
    "asks_to_stop": "opted_out",
}
"""What each persona of the mix must end as with the example survey flow."""
LAG_TICK_S = 0.01


@dataclass
class CallFigures:
    """What a run of calls measured (milliseconds unless named otherwise)."""

    concurrency: int
    seconds: float
    calls: int = 0
    completed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    outcomes_by_persona: dict[str, dict[str, int]] = field(default_factory=dict)
    cpu_percent_per_call: float = 0.0
    """The bot: its main process plus its recognizer workers."""
    main_cpu_percent_per_call: float = 0.0
    asr_cpu_percent_per_call: float | None = None
    callee_cpu_percent_per_call: float | None = None
    """The simulated callees' own process (None when they share the bot's)."""
    rss_mb_before: float = 0.0
    rss_mb_per_call: float = 0.0
    answer_to_disclosure: list[float] = field(default_factory=list)
    reply_at_callee: list[float] = field(default_factory=list)
    """Replies to words, measured by the callees."""
    key_reply_at_callee: list[float] = field(default_factory=list)
    reply_in_bot_log: list[float] = field(default_factory=list)
    """Last voice (end of speech minus the silence waited) -> next prompt, words only."""
    speech_end_to_bot_audio: list[float] = field(default_factory=list)
    """End-of-speech decision -> next prompt, words only (the old figure)."""
    wordless_speech_ends: list[float] = field(default_factory=list)
    """Speech ends that yielded no words: end of speech -> next prompt."""
    asr_wait: list[float] = field(default_factory=list)
    """End of speech -> final words known."""
    digit_to_dnc: list[float] = field(default_factory=list)
    loop_lag: list[float] = field(default_factory=list)
    gateway_cpu_percent_per_call: float | None = None
    """The SIP gateway's own CPU (Janus), when calls go through one."""

    @property
    def expected_share(self) -> float | None:
        """The share of calls whose outcome is the one their persona should produce."""
        total = hits = 0
        for persona, outcomes in self.outcomes_by_persona.items():
            expected = EXPECTED_OUTCOMES.get(persona)
            if expected is not None:
                total += sum(outcomes.values())
                hits += outcomes.get(expected, 0)
        return hits / total if total else None

    def as_json(self) -> dict[str, Any]:
        """The figures in the shape ``--json`` writes."""

        def q(values: list[float], *levels: int) -> dict[str, float | None]:
            return {f"p{n}": _round(percentile(values, n)) for n in levels}

        return {
            "concurrency": self.concurrency,
            "seconds": self.seconds,
            "calls_started": self.calls,
            "calls_completed": self.completed,
            "bot_cpu_percent_per_call": round(self.cpu_percent_per_call, 2),
            "bot_main_process_cpu_percent_per_call": round(self.main_cpu_percent_per_call, 2),
            "asr_workers_cpu_percent_per_call": _round(self.asr_cpu_percent_per_call, 2),
            "callee_cpu_percent_per_call": _round(self.callee_cpu_percent_per_call, 2),
            "gateway_cpu_percent_per_call": _round(self.gateway_cpu_percent_per_call, 2),
            "rss_mb_before": round(self.rss_mb_before, 1),
            "rss_mb_per_call": round(self.rss_mb_per_call, 2),
            "reply_latency_at_callee_ms": {
                **q(self.reply_at_callee, 50, 95, 99),
                "count": len(self.reply_at_callee),
            },
            "key_reply_latency_at_callee_ms": {
                **q(self.key_reply_at_callee, 50, 95),
                "count": len(self.key_reply_at_callee),
            },
            "reply_latency_in_bot_log_ms": {
                **q(self.reply_in_bot_log, 50, 95),
                "count": len(self.reply_in_bot_log),
            },
            "speech_end_decision_to_prompt_ms": q(self.speech_end_to_bot_audio, 50, 95),
            "wordless_speech_end_to_prompt_ms": {
                **q(self.wordless_speech_ends, 50, 95),
                "count": len(self.wordless_speech_ends),
            },
            "asr_final_after_speech_end_ms": q(self.asr_wait, 50, 95, 99),
            "answer_to_disclosure_ms": q(self.answer_to_disclosure, 50, 95),
            "digit_to_dnc_ms": q(self.digit_to_dnc, 50, 99),
            "loop_lag_ms": {
                "p99": _round(percentile(self.loop_lag, 99)),
                "max": _round(max(self.loop_lag, default=0.0)),
            },
            "outcomes": dict(sorted(self.outcomes.items())),
            "outcomes_by_persona": self.outcomes_by_persona,
            "expected_outcome_share": _round(self.expected_share, 3),
        }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation; None without values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, int(q) - 1))]


def latencies(log: EventLog, figures: CallFigures) -> None:
    """Add one call's latencies, as its bot log has them, to ``figures``."""
    answer = log.first(CallEvent.ANSWER)
    first_prompt = log.first(CallEvent.PROMPT_START)
    if answer and first_prompt:
        figures.answer_to_disclosure.append(1000 * (first_prompt.t - answer.t))
    starts = [e.t for e in log.of(CallEvent.PROMPT_START)]
    ends = list(log.of(CallEvent.SPEECH_END))
    utterances = list(log.of(CallEvent.UTTERANCE))
    for i, end in enumerate(ends):
        following = [t for t in starts if t >= end.t]
        if not following:
            continue
        next_end = ends[i + 1].t if i + 1 < len(ends) else float("inf")
        words = [u for u in utterances if end.t <= u.t and (u.t < next_end or u is utterances[-1])]
        said = bool(words and str(words[0].data.get("text", "")).strip())
        after_decision = 1000 * (following[0] - end.t)
        if not said:
            figures.wordless_speech_ends.append(after_decision)
            continue
        figures.speech_end_to_bot_audio.append(after_decision)
        figures.reply_in_bot_log.append(after_decision + float(end.data.get("silence_ms", 0)))
        if "asr_ms" in words[0].data:
            figures.asr_wait.append(float(words[0].data["asr_ms"]))
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


class _LagMeter:
    """How late a 10 ms timer fires in this event loop: what every call's media waits."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_TICK_S)
            self.samples.append(max(0.0, 1000 * (loop.time() - before - LAG_TICK_S)))

    async def stop(self) -> list[float]:
        if self._task is not None:
            self._task.cancel()
            with _suppress_cancel():
                await self._task
        samples, self.samples = self.samples, []
        return samples


def _suppress_cancel() -> Any:
    import contextlib

    return contextlib.suppress(asyncio.CancelledError)


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


async def run_calls(
    concurrency: int,
    seconds: float,
    flow_file: Path | None = None,
    on_call: Callable[[CallReport], None] | None = None,
    carrier: Carrier | None = None,
    recognizer: UtteranceSource | None = None,
) -> CallFigures:
    """Keep ``concurrency`` calls going for ``seconds`` on ``carrier`` (default: loopback
    personas in this process); measure them. ``recognizer``: default, the locale's recognizer
    in this process (a :class:`RecognizerPool` decodes on other cores)."""
    carrier = carrier or LoopbackCarrier()
    loaded = load_flow(flow_file or flows_dir() / "satisfaction_survey.yaml")
    synthesizer = await synthesizer_for(loaded.flow.locale)
    if recognizer is None:
        recognizer = recognizer_for(loaded.flow.locale)
    await prerender_disclosure(loaded, synthesizer)
    await carrier.prepare()
    try:
        return await _measure(
            concurrency, seconds, loaded, synthesizer, recognizer, carrier, on_call
        )
    finally:
        await carrier.close()


async def run_sweep(
    levels: Sequence[int],
    seconds: float,
    flow_file: Path | None = None,
    on_call: Callable[[CallReport], None] | None = None,
    carrier: Carrier | None = None,
    asr_workers: int | None = None,
    on_level: Callable[[int], None] | None = None,
) -> list[CallFigures]:
    """Measure each concurrency of ``levels`` in turn, with one carrier and one recognizer
    setup. ``asr_workers``: recognizer worker processes (None: one per core; 0: decode in
    threads of this process, as before the pool)."""
    carrier = carrier or LoopbackCarrier()
    loaded = load_flow(flow_file or flows_dir() / "satisfaction_survey.yaml")
    synthesizer = await synthesizer_for(loaded.flow.locale)
    await prerender_disclosure(loaded, synthesizer)
    pool: RecognizerPool | None = None
    recognizer: UtteranceSource
    if asr_workers == 0:
        recognizer = recognizer_for(loaded.flow.locale)
    else:
        pool = await RecognizerPool(loaded.flow.locale, workers=asr_workers).start()
        recognizer = pool
    runs: list[CallFigures] = []
    try:
        await carrier.prepare()
        for level in levels:
            if on_level is not None:
                on_level(level)
            runs.append(
                await _measure(level, seconds, loaded, synthesizer, recognizer, carrier, on_call)
            )
    finally:
        await carrier.close()
        if pool is not None:
            await pool.close()
    return runs


async def _measure(
    concurrency: int,
    seconds: float,
    loaded: Any,
    synthesizer: Any,
    recognizer: UtteranceSource,
    carrier: Carrier,
    on_call: Callable[[CallReport], None] | None,
) -> CallFigures:
    spec = compile_flow(loaded.flow)
    figures = CallFigures(concurrency, seconds)
    pool = recognizer if isinstance(recognizer, RecognizerPool) else None
    callee_cpu: Callable[[], float | None] = getattr(carrier, "callee_cpu_seconds", lambda: None)
    replies: list[tuple[str, float]] | None = getattr(carrier, "replies", None)
    persona_of: Callable[[str], str] | None = getattr(carrier, "persona_of", None)
    replies_before = len(replies) if replies is not None else 0
    figures.rss_mb_before = rss_mb()
    deadline = time.monotonic() + seconds
    cpu_start, wall_start = _cpu(), time.monotonic()
    asr_start = pool.cpu_seconds() if pool is not None else None
    callee_start = callee_cpu()
    gateway_start = carrier.gateway_cpu_seconds()
    peak_rss = figures.rss_mb_before
    counter = 0
    lag = _LagMeter()
    lag.start()

    async def worker() -> None:
        nonlocal counter, peak_rss
        while time.monotonic() < deadline:
            counter += 1
            index = counter
            number = f"+1202555{index % 10000:04d}"
            transport = carrier.transport_for(number, index)
            persona = persona_of(number) if persona_of is not None else None
            plan = CallPlan(number, loaded, "bench", "+12025550100", {"name": "Alex"}, spec=spec)
            figures.calls += 1
            placed = await place_call(plan, transport, synthesizer, recognizer, gate=None)
            report = placed.report
            assert report is not None
            outcome = report.outcome.value
            if outcome != "failed":
                figures.completed += 1
            figures.outcomes[outcome] = figures.outcomes.get(outcome, 0) + 1
            if persona is not None:
                mine = figures.outcomes_by_persona.setdefault(persona, {})
                mine[outcome] = mine.get(outcome, 0) + 1
            latencies(report.log, figures)
            peak_rss = max(peak_rss, rss_mb())
            if on_call is not None:
                on_call(report)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        gateway_end = carrier.gateway_cpu_seconds()
    finally:
        figures.loop_lag = await lag.stop()
    settle: Callable[[], Any] | None = getattr(carrier, "settle", None)
    if settle is not None:  # the callees' last reports are on their way
        await settle()
    wall = time.monotonic() - wall_start
    per_call = 100 / wall / concurrency
    figures.main_cpu_percent_per_call = (_cpu() - cpu_start) * per_call
    figures.cpu_percent_per_call = figures.main_cpu_percent_per_call
    if pool is not None and asr_start is not None:
        figures.asr_cpu_percent_per_call = (pool.cpu_seconds() - asr_start) * per_call
        figures.cpu_percent_per_call += figures.asr_cpu_percent_per_call
    callee_end = callee_cpu()
    if callee_start is not None and callee_end is not None:
        figures.callee_cpu_percent_per_call = (callee_end - callee_start) * per_call
    figures.rss_mb_per_call = (peak_rss - figures.rss_mb_before) / concurrency
    if gateway_start is not None and gateway_end is not None:
        figures.gateway_cpu_percent_per_call = (gateway_end - gateway_start) * per_call
    if replies is not None:
        for kind, ms in replies[replies_before:]:
            (figures.reply_at_callee if kind == "words" else figures.key_reply_at_callee).append(ms)
    return figures
