"""``voicebot worker``: place the calls of every active campaign, from the shared job queue."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys

import click
from rich.console import Console

from voicebot.campaign.dialer import DialerEvent
from voicebot.campaign.jobs import NotPostgres, queue_dsn
from voicebot.campaign.launch import TransportUnavailable
from voicebot.campaign.worker import HEARTBEAT_TIMEOUT, Worker
from voicebot.commands.store_work import run_on_store
from voicebot.flow.approval import NotApproved
from voicebot.store import Store, db_option, resolve_db_url
from voicebot.store.location import ENV_VAR


@click.command()
@db_option
@click.option(
    "--processes",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes to run here (default: one per core).",
)
@click.option(
    "--max-calls", type=click.IntRange(2, 500), default=10, help="Calls at once per process."
)
@click.option(
    "--heartbeat-timeout",
    type=click.FloatRange(1, 3600),
    default=HEARTBEAT_TIMEOUT.total_seconds(),
    show_default=True,
    help="Seconds without a heartbeat after which a worker's jobs are taken back.",
)
@click.option("--drain", is_flag=True, help="Return once no job is queued (tests, batch runs).")
def worker(
    db: str | None, processes: int | None, max_calls: int, heartbeat_timeout: float, drain: bool
) -> None:
    """Place calls for any active campaign (`voicebot campaign start`) of a PostgreSQL store.

    Run as many as you like, on as many machines, against the same database: each contact's
    job runs on one worker at a time. SIGTERM or Ctrl-C lets the calls under way end first.
    """
    url = resolve_db_url(db)
    try:
        queue_dsn(url)
    except NotPostgres as exc:
        raise click.ClickException(str(exc)) from None
    count = processes or os.cpu_count() or 1
    if count > 1:
        raise SystemExit(_fork(url, count, [str(max_calls), str(heartbeat_timeout)], drain))
    console = Console(stderr=True, soft_wrap=True)
    pid = os.getpid()

    def progress(event: DialerEvent) -> None:
        if event.kind == "ended" and event.outcome is not None:
            console.print(f"[{pid}] {event.masked}: {event.outcome.value}")
        elif event.kind == "blocked":
            console.print(f"[{pid}] {event.masked}: blocked ({', '.join(event.reasons)})")
        elif event.kind == "recovered":
            console.print(f"[{pid}] {event.masked}: closed an attempt its worker left")

    async def main(store: Store) -> None:
        runner = Worker(
            store,
            max_calls=max_calls,
            listener=progress,
            note=lambda n: console.print(n),
            heartbeat_timeout=dt.timedelta(seconds=heartbeat_timeout),
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runner.stop)
        console.print(f"[{pid}] worker ready ({max_calls} calls at once)")
        await runner.run(drain=drain)

    run_on_store(url, main, errors=(NotApproved, TransportUnavailable))


def _fork(url: str, count: int, limits: list[str], drain: bool) -> int:
    """Run ``count`` single workers as child processes; forward SIGINT/SIGTERM; worst exit.

    The URL goes through the environment, not the command line (``ps`` shows that to all)."""
    args = [sys.executable, "-m", "voicebot", "worker", "--processes", "1"]
    args += ["--max-calls", limits[0], "--heartbeat-timeout", limits[1]]
    args += ["--drain"] if drain else []
    env = {**os.environ, ENV_VAR: url}
    children = [subprocess.Popen(args, env=env) for _ in range(count)]

    def forward(sig: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return max(child.wait() for child in children)
