"""``voicebot flow approve FILE --reviewer NAME``: sign off a flow and the texts it says.

Campaigns refuse a flow that matches no approval (see :mod:`voicebot.flow.approval`);
``--check`` tells whether the flow as it is now is approved, and what changed if not.
"""

from __future__ import annotations

from pathlib import Path

import click

from voicebot.commands.store_work import run_on_store
from voicebot.flow.approval import (
    NotApproved,
    UnapprovableFlow,
    check_approved,
    require_reviewer,
)
from voicebot.flow.approval import approve as approve_flow
from voicebot.flow.loader import load_flow
from voicebot.store import Store, db_option
from voicebot.yamlsource import SourceErrors

EXIT_NOT_APPROVED = 1


@click.command("approve")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--reviewer",
    default=None,
    help="Who reviewed the flow and its prompts: a console user with the designer or admin role.",
)
@click.option("--check", is_flag=True, help="Only say whether the flow is approved as it is.")
@click.option(
    "--prompts",
    "prompts_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory of <locale>.yaml prompt files (default: beside the flow).",
)
@db_option
def approve_command(
    file: Path, reviewer: str | None, check: bool, prompts_dir: Path | None, db: str | None
) -> None:
    """Approve flow FILE (its hash and the hash of every prompt it uses) as REVIEWER.

    A flow with lint errors is refused; the approval records the lint version.
    """
    if not check and not (reviewer and reviewer.strip()):
        raise click.UsageError("--reviewer NAME is required (or use --check)")
    try:
        loaded = load_flow(file, prompts_dir)
    except SourceErrors as exc:
        raise click.ClickException(str(exc)) from None

    async def work(store: Store) -> str:
        if check:
            found = await check_approved(loaded, store)
            return (
                f"approved: {found.flow_name} ({found.locale}) by {found.reviewer} "
                f"at {found.approved_at:%Y-%m-%d %H:%M} UTC, sha256 {found.digest[:16]}"
            )
        name = await require_reviewer(store, reviewer or "")
        made = await approve_flow(store, loaded, name)
        return f"approved {made.flow_name} ({made.locale}) sha256 {made.digest} by {made.reviewer}"

    try:
        click.echo(run_on_store(db, work))
    except NotApproved as exc:
        click.echo(f"not approved: {exc.flow_name}", err=True)
        for change in exc.changes:
            click.echo(f"  - {change}", err=True)
        raise SystemExit(EXIT_NOT_APPROVED) from None
    except UnapprovableFlow as exc:
        raise click.ClickException(str(exc)) from None


approve = approve_command
