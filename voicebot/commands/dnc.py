"""``voicebot dnc ...``: manage the do-not-call list (numbers masked in output by default)."""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from voicebot.commands.compliance import policy_option, require_valid, run_with_store, show
from voicebot.compliance import dnc as dnc_list
from voicebot.compliance.policy import Policy
from voicebot.store import Store, db_option

_campaign_option = click.option(
    "--campaign", default=None, help="Scope to one campaign (default: global, every campaign)."
)


@click.group()
def dnc() -> None:
    """Add, remove, import, export and list do-not-call entries."""


@dnc.command()
@click.argument("number")
@_campaign_option
@click.option("--source", default=None, help="Why (default: 'manual by <user>').")
@db_option
@policy_option
def add(
    number: str, campaign: str | None, source: str | None, db: str | None, policy_file: Path | None
) -> None:
    """Put NUMBER on the do-not-call list."""
    require_valid(number)
    why = source or f"manual by {getpass.getuser()}"

    async def work(store: Store, policy: Policy) -> bool:
        return await dnc_list.add(store, policy, number, campaign, why, dt.datetime.now(dt.UTC))

    added = run_with_store(db, policy_file, work)
    click.echo("added" if added else "already on the list")


@dnc.command()
@click.argument("number")
@_campaign_option
@db_option
@policy_option
def remove(number: str, campaign: str | None, db: str | None, policy_file: Path | None) -> None:
    """Take NUMBER off the list in one scope (the removal is audited)."""
    require_valid(number)

    async def work(store: Store, policy: Policy) -> int:
        return await dnc_list.remove(
            store, policy, number, campaign, getpass.getuser(), dt.datetime.now(dt.UTC)
        )

    removed = run_with_store(db, policy_file, work)
    if not removed:
        raise click.ClickException("no such entry in that scope")
    click.echo(f"removed {removed}")


@dnc.command(name="import")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@_campaign_option
@click.option("--source", default=None, help="Why (default: 'import <file name>').")
@db_option
@policy_option
def import_(
    csv_file: Path,
    campaign: str | None,
    source: str | None,
    db: str | None,
    policy_file: Path | None,
) -> None:
    """Add every number of CSV_FILE (a 'number' or 'phone' column, as in contacts files, or the
    first column); all or nothing."""
    why = source or f"import {csv_file.name}"

    async def work(store: Store, policy: Policy) -> tuple[int, int]:
        return await dnc_list.import_csv(
            store, policy, csv_file, campaign, why, dt.datetime.now(dt.UTC)
        )

    added, present = run_with_store(db, policy_file, work)
    click.echo(f"added {added}, already present {present}")


@dnc.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--unmasked", is_flag=True, help="Write full numbers (e.g. to import elsewhere).")
@db_option
def export(output: Path | None, unmasked: bool, db: str | None) -> None:
    """Write the list as CSV (number, campaign, source, created_at) to --output or stdout."""

    async def work(store: Store, _policy: Policy) -> list[dnc_list.DncListing]:
        return await dnc_list.entries(store)

    rows = run_with_store(db, None, work)
    handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        writer = csv.writer(handle)
        writer.writerow(["number", "campaign", "source", "created_at"])
        for row in rows:
            writer.writerow(
                [show(row.number, unmasked), row.campaign or "", row.source, row.created_at]
            )
    finally:
        if output:
            handle.close()


@dnc.command(name="list")
@click.option("--show-numbers", is_flag=True, help="Print numbers unmasked.")
@db_option
def list_(show_numbers: bool, db: str | None) -> None:
    """List the entries (numbers masked unless --show-numbers)."""

    async def work(store: Store, _policy: Policy) -> tuple[list[dnc_list.DncListing], int]:
        return await dnc_list.entries(store), await dnc_list.erased_count(store)

    rows, erased = run_with_store(db, None, work)
    table = Table("number", "scope", "source", "since")
    for row in rows:
        table.add_row(
            show(row.number, show_numbers),
            row.campaign or "global",
            row.source,
            str(row.created_at),
        )
    Console().print(table)
    click.echo(f"{len(rows)} entries")
    if erased:
        click.echo(
            f"and {erased} erased number{'s' if erased != 1 else ''} kept as keyed hashes only "
            "(not listed: their numbers are gone; the gate still refuses them)"
        )
