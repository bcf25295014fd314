"""``voicebot bench calls``: figures for full loopback calls under load (no pass/fail)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table


@click.command("calls")
@click.option("--concurrency", type=click.IntRange(1, 200), default=10, show_default=True)
@click.option(
    "--seconds",
    type=click.FloatRange(5, 3600),
    default=30,
    show_default=True,
    help="Keep starting calls for this long (running calls finish).",
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
    "creates (root; installs Debian's janus and sip-tester if missing).",
)
def bench_calls(concurrency: int, seconds: float, flow_file: Path | None, transport: str) -> None:
    """Run CONCURRENCY loopback calls to personas for SECONDS; print cost and latencies."""
    from voicebot.call.bench import percentile, run_calls
    from voicebot.call.session import CallReport

    console = Console(highlight=False)
    with console.status(f"{concurrency} concurrent calls for {seconds:.0f} s ...") as status:
        done = 0

        def progress(report: CallReport) -> None:
            nonlocal done
            done += 1
            status.update(
                f"{concurrency} concurrent calls: {done} finished (last: {report.outcome.value})"
            )

        carrier = None
        if transport == "janus":
            from voicebot.call.bench_janus import JanusCarrier

            carrier = JanusCarrier()
        figures = asyncio.run(run_calls(concurrency, seconds, flow_file, progress, carrier))

    def ms(values: list[float], q: float) -> str:
        value = percentile(values, q)
        return "n/a" if value is None else f"{value:.0f} ms"

    table = Table(title=f"{figures.calls} calls, {concurrency} at a time, {transport}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    who = "bot + simulated callee" if transport == "loopback" else "bot"
    table.add_row(f"CPU per call ({who})", f"{figures.cpu_percent_per_call:.1f} %")
    table.add_row(
        "RSS before / per call",
        f"{figures.rss_mb_before:.0f} MB / {figures.rss_mb_per_call:.1f} MB",
    )
    a = figures.answer_to_disclosure
    table.add_row("answer -> disclosure p50 / p95", f"{ms(a, 50)} / {ms(a, 95)}")
    s = figures.speech_end_to_bot_audio
    table.add_row("end of caller speech -> bot audio p50 / p95", f"{ms(s, 50)} / {ms(s, 95)}")
    d = figures.digit_to_dnc
    table.add_row("9 heard -> do-not-call committed p50 / p99", f"{ms(d, 50)} / {ms(d, 99)}")
    if figures.gateway_cpu_percent_per_call is not None:
        table.add_row("Janus CPU per call", f"{figures.gateway_cpu_percent_per_call:.2f} %")
    table.add_row("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(figures.outcomes.items())))
    console.print(table)
    console.print("[dim]Machines are shared and noisy: compare ratios within one run.[/]")
