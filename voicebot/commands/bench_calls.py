"""``voicebot bench calls``: figures for full calls under load (no pass/fail)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table


def _levels(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    try:
        levels = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected numbers separated by commas, got {value!r}") from None
    if not levels or any(not 1 <= n <= 200 for n in levels):
        raise click.BadParameter(f"expected levels between 1 and 200, got {value!r}")
    return levels


def _workers(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    from voicebot.speech.asr.pool import parse_workers

    if value == "0":
        return 0
    try:
        return parse_workers(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("calls")
@click.option(
    "--concurrency",
    default="10",
    show_default=True,
    callback=_levels,
    help="Concurrent calls; several levels separated by commas are measured in turn (5,10,20).",
)
@click.option(
    "--seconds",
    type=click.FloatRange(5, 3600),
    default=30,
    show_default=True,
    help="Keep starting calls for this long, per level (running calls finish).",
)
@click.option(
    "--flow",
    "flow_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Flow to run (default: the example survey, en-US).",
)
@click.option(
    "--transport",
    type=click.Choice(["loopback", "janus"]),
    default="loopback",
    show_default=True,
    help="janus: through a real Janus to SIPp phones in a private network namespace the bench "
    "creates (root; needs Debian's janus and sip-tester: see --install).",
)
@click.option(
    "--install",
    is_flag=True,
    help="With --transport janus: install Debian's janus and sip-tester first if missing "
    "(root, apt-get).",
)
@click.option(
    "--callees",
    type=click.Choice(["process", "inline"]),
    default="process",
    show_default=True,
    help="process: the simulated callees run in a process of their own, so the bot's CPU is "
    "its own; inline: in the bot's process (loopback only).",
)
@click.option(
    "--asr-workers",
    default="auto",
    show_default=True,
    callback=_workers,
    help="Recognizer worker processes: auto (one per core), a number, or 0 to decode in "
    "threads of the bot's process.",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the figures of every level to this file.",
)
def bench_calls(
    concurrency: list[int],
    seconds: float,
    flow_file: Path | None,
    transport: str,
    install: bool,
    callees: str,
    asr_workers: int | None,
    json_file: Path | None,
) -> None:
    """Run calls to simulated callees at each CONCURRENCY for SECONDS; print cost and
    latencies as a caller experiences them."""
    from voicebot.call.session import CallReport
    from voicebot.sim.call_bench import PERSONA_MIX, Carrier, LoopbackCarrier, run_sweep

    console = Console(highlight=False)
    if transport == "janus":
        _install_lab(console) if install else _require_lab()
    with console.status("preparing ...") as status:
        done = 0
        level_now = 0

        def level(n: int) -> None:
            nonlocal done, level_now
            done, level_now = 0, n
            status.update(f"{n} concurrent calls for {seconds:.0f} s ...")

        def progress(report: CallReport) -> None:
            nonlocal done
            done += 1
            status.update(
                f"{level_now} concurrent calls: {done} finished (last: {report.outcome.value})"
            )

        carrier: Carrier
        if transport == "janus":
            from voicebot.sim.call_bench_janus import JanusCarrier

            carrier = JanusCarrier()
        elif callees == "process":
            from voicebot.sim.call_bench_callees import ProcessCallees

            carrier = ProcessCallees(PERSONA_MIX)
        else:
            carrier = LoopbackCarrier()
        runs = asyncio.run(
            run_sweep(concurrency, seconds, flow_file, progress, carrier, asr_workers, level)
        )

    where = "janus" if transport == "janus" else f"loopback, callees {callees}"
    asr = {None: "one per core", 0: "in-process threads"}.get(asr_workers, str(asr_workers))
    table = Table(title=f"bench calls: {where}, {seconds:.0f} s per level, recognizers: {asr}")
    table.add_column("figure")
    for figures in runs:
        table.add_column(f"{figures.concurrency} calls", justify="right")

    def row(label: str, key: str, *fields: str, unit: str = "ms") -> None:
        cells = []
        for figures in runs:
            value = figures.as_json()[key]
            parts = [value.get(f) if isinstance(value, dict) else value for f in fields or [""]]
            shown = ["n/a" if v is None else f"{v:.0f}" for v in parts]
            cells.append(" / ".join(shown) + (f" {unit}" if unit else ""))
        table.add_row(label, *cells)

    table.add_row("calls started / completed", *(f"{f.calls} / {f.completed}" for f in runs))
    table.add_row(
        "CPU per call: bot (main + recognizers)",
        *(
            f"{f.cpu_percent_per_call:.1f} % ({f.main_cpu_percent_per_call:.1f} + "
            f"{f.asr_cpu_percent_per_call or 0:.1f})"
            for f in runs
        ),
    )
    if transport != "janus":
        table.add_row(
            "CPU per call: simulated callees",
            *(
                "same process"
                if f.callee_cpu_percent_per_call is None
                else f"{f.callee_cpu_percent_per_call:.1f} %"
                for f in runs
            ),
        )
    table.add_row(
        "RSS before / per call",
        *(f"{f.rss_mb_before:.0f} MB / {f.rss_mb_per_call:.1f} MB" for f in runs),
    )
    row("answer -> disclosure p50 / p95", "answer_to_disclosure_ms", "p50", "p95")
    if transport != "janus" and callees == "process":
        row(
            "reply to words at callee p50 / p95 / p99",
            "reply_latency_at_callee_ms",
            "p50",
            "p95",
            "p99",
        )
        row("  replies to words heard", "reply_latency_at_callee_ms", "count", unit="")
        row("reply to keys at callee p50 / p95", "key_reply_latency_at_callee_ms", "p50", "p95")
    row("reply to words in bot log p50 / p95", "reply_latency_in_bot_log_ms", "p50", "p95")
    row(
        "end of caller speech -> bot audio (words) p50 / p95",
        "speech_end_decision_to_prompt_ms",
        "p50",
        "p95",
    )
    row(
        "  speech ends without words -> prompt p50 / p95",
        "wordless_speech_end_to_prompt_ms",
        "p50",
        "p95",
    )
    row("  speech ends without words", "wordless_speech_end_to_prompt_ms", "count", unit="")
    row("final words after end of speech p50 / p95", "asr_final_after_speech_end_ms", "p50", "p95")
    row("9 heard -> do-not-call committed p50 / p99", "digit_to_dnc_ms", "p50", "p99")
    row("event-loop lag p99 / max", "loop_lag_ms", "p99", "max")
    if any(f.gateway_cpu_percent_per_call is not None for f in runs):
        table.add_row(
            "Janus CPU per call",
            *(f"{f.gateway_cpu_percent_per_call or 0:.2f} %" for f in runs),
        )
    table.add_row(
        "outcomes", *(", ".join(f"{k} {v}" for k, v in sorted(f.outcomes.items())) for f in runs)
    )
    table.add_row(
        "outcome as the persona expects",
        *("n/a" if f.expected_share is None else f"{100 * f.expected_share:.0f} %" for f in runs),
    )
    console.print(table)
    console.print(
        "[dim]Figures in ms unless marked; shared machines are noisy: compare levels and "
        "runs from the same sitting.[/]"
    )
    if json_file is not None:
        payload = {"runs": [f.as_json() for f in runs]}
        json_file.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        console.print(f"figures written to {json_file}")


def _install_lab(console: Console) -> None:
    """Install the Janus lab's Debian packages, as the user asked (``--install``)."""
    from voicebot.commands.debian import DebianInstallError, install
    from voicebot.sim.janus_lab import PACKAGES

    try:
        with console.status("installing Janus and SIPp (apt-get) ..."):
            installed = install(PACKAGES)
    except DebianInstallError as exc:
        raise click.ClickException(str(exc)) from exc
    if installed:
        console.print(f"installed: {', '.join(installed)}")


def _require_lab() -> None:
    """Say what to install before any call starts, not from deep inside the lab."""
    from voicebot.sim.janus_lab import LabNotInstalled, require_installed

    try:
        require_installed()
    except LabNotInstalled as exc:
        raise click.ClickException(str(exc)) from exc
