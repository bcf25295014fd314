"""``voicebot review ...``: decide heard refusals; a confirmation freezes the number."""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from voicebot.commands.compliance import policy_option, run_with_store, show
from voicebot.compliance import review as queue
from voicebot.compliance.policy import Policy
from voicebot.store import Store, db_option

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def review() -> None:
    """List, confirm or dismiss refusals waiting for review."""


@review.command(name="list")
@click.option(
    "--status",
    type=click.Choice([*queue.STATUSES, "all"]),
    default="pending",
    show_default=True,
)
@click.option("--show-numbers", is_flag=True, help="Print numbers unmasked.")
@db_option
def list_(status: str, show_numbers: bool, db: str | None) -> None:
    """Refusals in the queue, oldest first."""

    async def work(store: Store, _policy: Policy) -> list[queue.ReviewEntry]:
        return await queue.list_reviews(store, None if status == "all" else status)

    items = run_with_store(db, None, work)
    table = Table("id", "number", "attempt", "status", "created", "talk s", "decided by")
    for item in items:
        table.add_row(
            str(item.id),
            show(item.number, show_numbers),
            str(item.attempt_id or ""),
            item.status,
            str(item.created_at),
            "" if item.talk_seconds is None else f"{item.talk_seconds:g}",
            item.decided_by or "",
        )
    Console().print(table)
    click.echo(f"{len(items)} items")


def _decision(command: F) -> F:
    """The arguments of a decision on one item: ITEM_ID, ``--by``, ``--note``, the store and
    the policy."""
    for option in (
        policy_option,
        db_option,
        click.option("--note", default=None),
        click.option("--by", default=None, help="Reviewer (default: the current user)."),
        click.argument("item_id", type=int),
    ):
        command = option(command)
    return command


def _decide(
    decide: Callable[[Store, Policy, int, dt.datetime, str, str | None], Awaitable[T]],
    item_id: int,
    by: str | None,
    note: str | None,
    db: str | None,
    policy_file: Path | None,
) -> T:
    async def work(store: Store, policy: Policy) -> T:
        now = dt.datetime.now(dt.UTC)
        return await decide(store, policy, item_id, now, by or getpass.getuser(), note)

    return run_with_store(db, policy_file, work)


@review.command()
@_decision
def confirm(
    item_id: int, by: str | None, note: str | None, db: str | None, policy_file: Path | None
) -> None:
    """Confirm refusal ITEM_ID: the number is frozen (refusal_review.freeze_days)."""
    until = _decide(queue.confirm, item_id, by, note, db, policy_file)
    click.echo(f"confirmed; frozen until {until.isoformat()}")


@review.command()
@_decision
def dismiss(
    item_id: int, by: str | None, note: str | None, db: str | None, policy_file: Path | None
) -> None:
    """Dismiss refusal ITEM_ID (misheard or not a refusal); nothing else changes."""
    _decide(queue.dismiss, item_id, by, note, db, policy_file)
    click.echo("dismissed")
