"""``voicebot campaign run|status|results``: dial a campaign file, see where it stands, export it.

``run`` resumes where a previous run stopped (even after kill -9): the plan lives in the store.
One process runs a campaign at a time (a lease in the store; a second ``run`` is refused with the
holder's host and pid, and takes over only once that process is gone). Ctrl-C stops cleanly (no
new dials; calls under way end and are recorded); a second Ctrl-C, or SIGTERM, ends those calls
now (they are recorded as failed, "interrupted"). Numbers are masked in every output unless
``--show-numbers`` is given.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import signal
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from voicebot.campaign import shared
from voicebot.campaign.config import load_campaign
from voicebot.campaign.contacts import ContactFileError, RejectedRow
from voicebot.campaign.dialer import Dialer, DialerEvent
from voicebot.campaign.execute import run_campaign
from voicebot.campaign.jobs import NotPostgres, queue_dsn, run_of
from voicebot.campaign.launch import (
    TransportUnavailable,
    prepare,
)
from voicebot.campaign.lease import CampaignBusy, Holder, current_holder
from voicebot.campaign.queue import AttemptRow
from voicebot.campaign.queue import attempts as attempts_of
from voicebot.campaign.report import write_report
from voicebot.campaign.results import CampaignResults
from voicebot.campaign.stored import UnknownCampaign, add_store_facts
from voicebot.commands.compliance import policy_option, show
from voicebot.commands.store_work import run_on_store
from voicebot.compliance.policy import load_policy, user_policy_path
from voicebot.flow.approval import NotApproved
from voicebot.privacy import mask_number
from voicebot.privacy.vault.owner import VaultOwnerError
from voicebot.store import Store, db_option, resolve_db_url
from voicebot.store.campaign_runs import ACTIVE, PAUSED, STOPPED
from voicebot.store.campaigns import find_campaign_id
from voicebot.store.models import CAMPAIGNS, DIALER_QUEUE
from voicebot.yamlsource import SourceErrors

_show_numbers = click.option(
    "--show-numbers", is_flag=True, help="Print numbers unmasked (you must be allowed to see them)."
)


@click.group()
def campaign() -> None:
    """Run a campaign, see its status, export its results."""


@campaign.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the HTML report (default: <name>-report.html beside FILE).",
)
@click.option(
    "--until-idle",
    is_flag=True,
    help="Return once nothing is due now (retries and callbacks stay planned for a later run).",
)
@click.option(
    "--max-concurrent", type=click.IntRange(1, 500), default=None, help="Override pacing."
)
@click.option(
    "--calls-per-second", type=click.FloatRange(0.01, 100), default=None, help="Override pacing."
)
@click.option(
    "--dev",
    is_flag=True,
    help="Run even if the flow is not approved (audited, and shown in the report).",
)
@db_option
@policy_option
def run(
    file: Path,
    report: Path | None,
    until_idle: bool,
    max_concurrent: int | None,
    calls_per_second: float | None,
    dev: bool,
    db: str | None,
    policy_file: Path | None,
) -> None:
    """Dial the campaign in FILE until every contact is done (resumes a stopped run)."""
    console = Console(stderr=True, soft_wrap=True)
    try:
        loaded = load_campaign(file)
        pacing = loaded.pacing.model_copy(
            update={
                k: v
                for k, v in (
                    ("max_concurrent", max_concurrent),
                    ("calls_per_second", calls_per_second),
                )
                if v is not None
            }
        )
        loaded = loaded.model_copy(update={"pacing": pacing})
        prepared = prepare(loaded)
        policy = load_policy(user_policy_path(policy_file))
        url = resolve_db_url(db)
    except (SourceErrors, ContactFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"{prepared.contacts.source}: {prepared.contacts.summary()}")
    for problem in prepared.import_problems:
        console.print(f"[yellow]not imported:[/] {problem}")

    said_wait: list[dt.datetime | None] = [None]

    def progress(event: DialerEvent) -> None:
        if event.kind == "waiting" and event.due is not None:
            if event.due != said_wait[0]:
                said_wait[0] = event.due
                console.print(waiting_line(event, until_idle))
        elif event.kind == "ended" and event.outcome is not None:
            console.print(f"{event.masked}: {event.outcome.value}")
        elif event.kind == "blocked":
            console.print(f"{event.masked}: blocked ({', '.join(event.reasons)})")
        elif event.kind == "recovered":
            console.print(f"{event.masked}: closed an interrupted attempt after a restart")

    async def dial(store: Store) -> CampaignResults:
        results = await run_campaign(
            prepared, store, policy, dev=dev, note=lambda note: console.print(note),
            listeners=[progress], control=_signals(console), until_idle=until_idle,
        )  # fmt: skip
        await add_store_facts(store, results)
        return results

    try:
        results = run_on_store(
            url, dial, errors=(TransportUnavailable, CampaignBusy, VaultOwnerError)
        )
    except NotApproved as exc:
        raise click.ClickException(
            f"{exc}\napprove it with `voicebot flow approve {prepared.loaded.path} --reviewer NAME`"
            " (or run with --dev while developing)"
        ) from None
    except asyncio.CancelledError:
        raise click.ClickException(
            "interrupted: calls under way were recorded as failed (interrupted); "
            "run again to resume"
        ) from None
    target = report or file.with_name(f"{loaded.name}-report.html")
    write_report(results, target)
    counts = results.outcome_counts()
    console.print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    if results.pending:
        console.print(
            f"{len(results.pending)} contact(s) still planned (retries, callbacks): "
            "run the same command again later to continue"
        )
    console.print(f"report: {target}")


def waiting_line(event: DialerEvent, until_idle: bool) -> str:
    """What an idle run is waiting for, and until when (local time with its zone, and UTC)."""
    assert event.due is not None
    entry = event.entry
    what = "callback" if entry.last_outcome == "callback" else f"retry after {entry.last_outcome}"
    if entry.last_outcome is None:
        what = "first call (not before the schedule or calling window allows)"
    left = event.due - event.at
    hours, rest = divmod(int(left.total_seconds()), 3600)
    wait = f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"
    local = event.due.astimezone()
    text = (
        f"waiting: next is {event.masked} ({what}), due {local:%Y-%m-%d %H:%M %Z} "
        f"({event.due.astimezone(dt.UTC):%H:%M} UTC), in {wait}."
    )
    if not until_idle:
        text += " Ctrl-C stops cleanly (a rerun resumes); --until-idle returns instead of waiting."
    return text


def _signals(console: Console) -> Any:
    """Ctrl-C first stops cleanly (calls under way end by themselves), a second one ends them;
    SIGTERM (a service manager stopping us) ends them at once. Ended calls are recorded as
    failed ("interrupted") and planned by the retry rules; a last signal cancels outright."""

    def control(dialer: Dialer) -> None:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        interrupted = False

        def on_signal(sig: signal.Signals) -> None:
            nonlocal interrupted
            if sig is signal.SIGINT and not dialer.stopping:
                console.print("stopping: no new calls; waiting for calls under way (Ctrl-C again "
                              "to end them)")  # fmt: skip
                dialer.stop()
            elif not interrupted:
                console.print("stopping: no new calls; ending the calls under way")
                interrupted = True
                dialer.interrupt()
            elif main is not None:
                main.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)

    return control


@campaign.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--dev",
    is_flag=True,
    help="Let the workers run even an unapproved flow (audited).",
)
@db_option
@policy_option
def start(file: Path, dev: bool, db: str | None, policy_file: Path | None) -> None:
    """Import FILE's contacts and queue them for the workers (`voicebot worker`, PostgreSQL).

    Starting again adds new contacts and queues those not done; nothing is queued twice.
    """
    console = Console(stderr=True, soft_wrap=True)
    try:
        prepared = prepare(load_campaign(file))
        policy_path = user_policy_path(policy_file)
        load_policy(policy_path)  # a bad policy is refused here, not by every worker
        url = resolve_db_url(db)
        queue_dsn(url)
    except (SourceErrors, ContactFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"{prepared.contacts.source}: {prepared.contacts.summary()}")
    for problem in prepared.import_problems:
        console.print(f"[yellow]not imported:[/] {problem}")
    try:
        added, queued = asyncio.run(
            shared.start(prepared, file, policy_path, url, dev=dev, note=console.print)
        )
    except NotApproved as exc:
        raise click.ClickException(
            f"{exc}\napprove it with `voicebot flow approve {prepared.loaded.path} --reviewer NAME`"
            " (or start with --dev while developing)"
        ) from None
    except VaultOwnerError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(
        f"campaign {prepared.campaign.name}: {added} contact(s) added, {queued} queued for the "
        "workers (run `voicebot worker --db URL` on any machine)"
    )


def _steer(name: str, db: str | None, state: str) -> int:
    try:
        return asyncio.run(shared.steer(resolve_db_url(db), name, state))
    except (NotPostgres, UnknownCampaign) as exc:
        raise click.ClickException(str(exc)) from None


@campaign.command()
@click.argument("name")
@db_option
def pause(name: str, db: str | None) -> None:
    """Workers dial nothing new for campaign NAME (calls under way go on) until `resume`."""
    _steer(name, db, PAUSED)
    click.echo(f"campaign {name}: paused on every worker")


@campaign.command()
@click.argument("name")
@db_option
def resume(name: str, db: str | None) -> None:
    """Workers dial campaign NAME again (after `pause` or `stop`)."""
    queued = _steer(name, db, ACTIVE)
    click.echo(f"campaign {name}: active ({queued} job(s) queued again)")


@campaign.command()
@click.argument("name")
@db_option
def stop(name: str, db: str | None) -> None:
    """Workers drop campaign NAME's jobs (calls under way end first); `resume` queues them."""
    _steer(name, db, STOPPED)
    click.echo(f"campaign {name}: stopped on every worker")


@campaign.command("schema")
@click.option("--check", is_flag=True, help="Do not write; exit 1 if a file is out of date.")
def schema_command(check: bool) -> None:
    """Write the JSON Schemas of campaign files and policy overrides beside the flow schema."""
    from voicebot.campaign.schema import rendered
    from voicebot.resources import flows_dir

    stale = []
    for name, text in rendered().items():
        target = flows_dir() / name
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if check:
            if current != text:
                stale.append(str(target))
        elif current != text:
            target.write_text(text, encoding="utf-8")
            click.echo(f"wrote {target}")
    if stale:
        click.echo(f"out of date: {', '.join(stale)}; run: voicebot campaign schema", err=True)
        raise SystemExit(1)


@campaign.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
def status(name: str, as_json: bool, db: str | None) -> None:
    """Where campaign NAME stands: contacts per state and last outcome, attempts made."""
    rows, attempts, holder = _load(name, db)
    by_state: dict[str, int] = {}
    by_outcome: dict[str, int] = {}
    for r in rows:
        by_state[r["status"]] = by_state.get(r["status"], 0) + 1
        key = r["last_outcome"] or "not yet"
        by_outcome[key] = by_outcome.get(key, 0) + 1
    due = [r["due_at"] for r in rows if r["status"] == "waiting" and r["due_at"]]
    summary = {
        "campaign": name,
        "contacts": len(rows),
        "states": by_state,
        "last_outcomes": by_outcome,
        "attempts": len(attempts),
        "open_attempts": sum(1 for a in attempts if a.state == "reserved"),
        "next_due": min(due) if due else None,
        "running": _running(holder),
        "workers": _workers_state(name, db),
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    table = Table(title=f"campaign {name}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in sorted(by_state.items()):
        table.add_row(f"contacts {key}", str(value))
    for key, value in sorted(by_outcome.items()):
        table.add_row(f"last outcome {key}", str(value))
    table.add_row("attempts", str(summary["attempts"]))
    table.add_row("next due", str(summary["next_due"] or "-"))
    if summary["workers"] is not None:
        table.add_row("on the workers", str(summary["workers"]))
    if holder is not None:
        gone = " (gone: the next run takes over)" if holder.gone(_utcnow()) else ""
        table.add_row("running", f"{holder.describe()}{gone}")
    Console().print(table)


@campaign.command()
@click.argument("campaign_ref", metavar="NAME|FILE")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (default: standard output).",
)
@_show_numbers
@db_option
def results(
    campaign_ref: str, fmt: str, output: Path | None, show_numbers: bool, db: str | None
) -> None:
    """Export a campaign: one row per contact with its CSV columns (numbers masked unless
    --show-numbers). Given the campaign FILE instead of its NAME, the contacts' rows that were
    not imported are listed too (status ``rejected``, with the reason)."""
    name, rejected = _name_and_rejected(campaign_ref)
    rows, attempts, _ = _load(name, db)
    per_number: dict[str, int] = {}
    for a in attempts:
        per_number[a.number] = per_number.get(a.number, 0) + 1
    columns: list[str] = []
    for r in rows:
        columns += [c for c in r["fields"] if c not in columns]
    records = [
        {
            "line": r["line"],
            "number": show(r["number"], show_numbers),
            **{c: r["fields"].get(c, "") for c in columns},
            "status": r["status"],
            "last_outcome": r["last_outcome"] or "",
            "reasons": ";".join(r["last_reasons"] or []),
            "attempts": per_number.get(r["number"], 0),
            "next_due": r["due_at"] or "",
            "note": r["note"] or "",
        }
        for r in rows
    ]
    empty = dict.fromkeys(records[0] if records else ["line", "number", *columns], "")
    for bad in rejected:
        raw = bad.raw_number if show_numbers else mask_number(bad.raw_number)
        records.append(
            {**empty, "line": bad.line, "number": raw, "status": "rejected", "note": bad.reason}
        )
    records.sort(key=lambda r: int(r["line"]))
    handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        if fmt == "json":
            json.dump(records, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]) if records else ["line"])
            writer.writeheader()
            writer.writerows(records)
    finally:
        if output:
            handle.close()


def _name_and_rejected(ref: str) -> tuple[str, list[RejectedRow]]:
    """A campaign NAME, or a campaign FILE: its name and the contact rows it cannot import."""
    path = Path(ref)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        return ref, []
    try:
        prepared = prepare(load_campaign(path))
    except (SourceErrors, ContactFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    return prepared.campaign.name, list(prepared.contacts.rejected)


def _running(holder: Holder | None) -> dict[str, Any] | None:
    """The process running the campaign (from its lease), for ``status --json``."""
    if holder is None:
        return None
    return {
        "host": holder.host,
        "pid": holder.pid,
        "since": holder.since.isoformat(),
        "renewed_at": holder.renewed_at.isoformat(),
        "gone": holder.gone(_utcnow()),
    }


def _workers_state(name: str, db: str | None) -> str | None:
    """``active``, ``paused`` or ``stopped`` if the campaign was started for the workers."""

    async def main(store: Store) -> str | None:
        cid = await store.serialized(lambda conn: find_campaign_id(conn, name))
        run = await run_of(store, cid) if cid is not None else None
        return run.state if run is not None else None

    return run_on_store(db, main)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_Loaded = tuple[list[dict[str, Any]], list[AttemptRow], Holder | None]


def _load(name: str, db: str | None) -> _Loaded:
    async def main(store: Store) -> _Loaded:
        async with store.engine.connect() as conn:
            cid = (
                await conn.execute(select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.name == name))
            ).scalar()
            if cid is None:
                raise click.ClickException(f"no campaign named {name!r} in this database")
            queue_rows = (
                await conn.execute(
                    select(DIALER_QUEUE)
                    .where(DIALER_QUEUE.c.campaign_id == cid)
                    .order_by(DIALER_QUEUE.c.line)
                )
            ).all()
        # Numbers and fields are stored sealed: open them here, mask numbers on output.
        rows = []
        for r in queue_rows:
            row = dict(r._mapping)
            row["number"] = store.numbers.open(row.pop("number_sealed"))
            row["fields"] = store.numbers.open_fields(row.pop("fields_sealed"))
            del row["number_hash"]
            due = row.get("due_at")
            row["due_at"] = due.isoformat() if isinstance(due, dt.datetime) else None
            rows.append(row)
        return rows, await attempts_of(store, cid), await current_holder(store, cid)

    return run_on_store(db, main)
