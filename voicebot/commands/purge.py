"""``voicebot purge``: delete recordings and transcripts past retention, and the audit log's
entries past its own (longer) retention, leaving a checkpoint so the chain still verifies."""

from __future__ import annotations

import json
from pathlib import Path

import click

from voicebot.commands.compliance import parse_at
from voicebot.commands.privacy_options import open_vault, run_store_work, vault_option
from voicebot.privacy.retention import MIN_AUDIT_DAYS, PurgeReport, RetentionPolicy, purge
from voicebot.store import Store, db_option


@click.command("purge")
@click.option(
    "--recordings-days", default=365, show_default=True, help="Keep recordings/transcripts N days."
)
@click.option(
    "--audit-days",
    default=400,
    show_default=True,
    help=f"Keep audit entries N days (at least {MIN_AUDIT_DAYS}).",
)
@click.option("--at", "at", metavar="ISO-8601", help="Purge as of this instant; default now.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@vault_option
@db_option
def purge_command(
    recordings_days: int,
    audit_days: int,
    at: str | None,
    as_json: bool,
    vault_dir: Path | None,
    db: str | None,
) -> None:
    """Delete what is older than the retention periods (the purge itself is audited)."""
    try:
        policy = RetentionPolicy(recordings_days=recordings_days, audit_days=audit_days)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    now = parse_at(at)

    async def work(store: Store) -> PurgeReport:
        return await purge(store, open_vault(store, vault_dir, required=False), now, policy)

    report = run_store_work(db, work)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
        return
    click.echo(
        f"purged {len(report.vault_files)} recordings/transcripts older than "
        f"{report.recordings_before:%Y-%m-%d} and {report.audit_rows} audit entries older than "
        f"{report.audit_before:%Y-%m-%d}"
    )
    for name, rows in sorted(report.hook_rows.items()):
        click.echo(f"  {name}: {rows} rows")
    if report.checkpoint_seq is not None:
        click.echo(f"audit checkpoint at seq {report.checkpoint_seq}")
