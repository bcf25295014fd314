"""``voicebot bench campaign``: dials and gate decisions per second with 1, 2, ... workers.

Each worker count runs in a fresh database of the given PostgreSQL server (created and dropped
here), on the simulated transport (calls take no time): what is measured is the queue, the gate
and the store. Rates are taken from the store's own timestamps (first to last dial, first to
last gate decision), so the seconds a worker process takes to start are not counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import click
from sqlalchemy.engine import make_url

from voicebot.campaign import shared
from voicebot.campaign.config import load_campaign
from voicebot.campaign.jobs import NotPostgres, queue_dsn
from voicebot.campaign.launch import prepare
from voicebot.resources import flows_dir
from voicebot.store.location import ENV_VAR


@click.command("campaign")
@click.option(
    "--db", "db", required=True, metavar="URL", help="A PostgreSQL server (its DB is left alone)."
)
@click.option("--workers", default="1,2", show_default=True, help="Worker counts to compare.")
@click.option("--contacts", type=click.IntRange(1, 900), default=400, show_default=True)
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), default=None)
def bench_campaign(db: str, workers: str, contacts: int, json_file: Path | None) -> None:
    """Dials/s and gate decisions/s for each worker count (simulated transport)."""
    try:
        queue_dsn(db)
        counts = [int(c) for c in workers.split(",") if c.strip()]
    except (NotPostgres, ValueError) as exc:
        raise click.ClickException(f"--db/--workers: {exc}") from None
    results = []
    for count in counts:
        figures = asyncio.run(_one(db, count, contacts))
        click.echo(
            f"{count} worker(s): {figures['dials']} dials, {figures['dials_per_s']:.1f} dials/s, "
            f"{figures['decisions_per_s']:.1f} gate decisions/s"
        )
        results.append(figures)
    if len(results) > 1 and results[0]["dials_per_s"]:
        ratio = results[-1]["dials_per_s"] / results[0]["dials_per_s"]
        click.echo(f"{counts[-1]} vs {counts[0]} worker(s): {ratio:.2f}x the dial rate")
    if json_file is not None:
        json_file.write_text(json.dumps({"runs": results}, indent=2) + "\n", encoding="utf-8")


async def _one(server: str, count: int, contacts: int) -> dict[str, Any]:
    name = f"voicebot_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(queue_dsn(server))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            camp = _campaign(Path(tmp), contacts)
            await shared.start(
                prepare(load_campaign(camp)), camp, Path(tmp) / "p.yaml", url, dev=True
            )
            await asyncio.to_thread(_run_workers, url, count)
        conn = await asyncpg.connect(queue_dsn(url))
        try:
            dials = await conn.fetchrow(
                "SELECT count(*) n, extract(epoch FROM max(reserved_at) - min(reserved_at)) s "
                "FROM attempts"
            )
            decisions = await conn.fetchrow(
                "SELECT count(*) n, extract(epoch FROM max(at) - min(at)) s "
                "FROM audit_events WHERE kind = 'reserve'"
            )
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return {
        "workers": count,
        "contacts": contacts,
        "dials": int(dials["n"]),
        "dials_per_s": _rate(dials["n"], dials["s"]),
        "decisions": int(decisions["n"]),
        "decisions_per_s": _rate(decisions["n"], decisions["s"]),
    }


def _rate(n: Any, seconds: Any) -> float:
    return float(n) / float(seconds) if n and seconds else 0.0


def _campaign(tmp: Path, contacts: int) -> Path:
    (tmp / "p.yaml").write_text(
        'purposes:\n  notification:\n    window: {start: "00:00", end: "23:59:59"}\n',
        encoding="utf-8",
    )
    rows = [f"+1202555{100 + i:04d},c{i},completed" for i in range(contacts)]
    (tmp / "c.csv").write_text("number,name,simulate\n" + "\n".join(rows) + "\n", encoding="utf-8")
    path = tmp / "bench.yaml"
    flow = (flows_dir() / "payment_reminder.yaml").as_posix()
    path.write_text(
        f"name: bench\nflow: {flow}\ncontacts: c.csv\n"
        'caller_id: "+12025550100"\ndefault_region: US\ntransport: simulated\n'
        "simulated_call_seconds: 0\n",
        encoding="utf-8",
    )
    return path


def _run_workers(url: str, count: int) -> None:
    env = {**os.environ, ENV_VAR: url}
    args = [sys.executable, "-m", "voicebot", "worker", "--processes", "1", "--drain"]
    children = [
        subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]
    failed = [c.wait() for c in children]
    if any(failed):
        raise click.ClickException(f"a worker failed (exit codes {failed})")
