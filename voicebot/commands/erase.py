"""``voicebot erase NUMBER``: remove every piece of personal data of a number, at once, and keep
only a keyed hash on the do-not-call list so it is never called again."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from pathlib import Path

import click

from voicebot.commands.compliance import require_valid
from voicebot.commands.privacy_options import open_vault, run_store_work, vault_option
from voicebot.privacy.erasure import ErasureReport, erase
from voicebot.store import Store, db_option


@click.command("erase")
@click.argument("number")
@click.option("--actor", default=None, help="Who asked (default: 'cli:<user>'); audited.")
@click.option("--json", "as_json", is_flag=True, help="Print the erasure report as JSON.")
@vault_option
@db_option
def erase_command(
    number: str, actor: str | None, as_json: bool, vault_dir: Path | None, db: str | None
) -> None:
    """Erase NUMBER: contacts, attempts, review notes, freezes, recordings, transcripts."""
    require_valid(number)
    who = actor or f"cli:{getpass.getuser()}"

    async def work(store: Store) -> ErasureReport:
        vault = open_vault(store, vault_dir, required=False)
        return await erase(store, vault, number, dt.datetime.now(dt.UTC), who)

    report = run_store_work(db, work)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        click.echo("\n".join(report.lines()))
    if not report.compacted:
        click.echo(
            "warning: the database file could not be compacted now (another process is using "
            "it); erased rows may remain in free space until the next erase or VACUUM",
            err=True,
        )
