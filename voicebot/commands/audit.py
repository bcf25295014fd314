"""``voicebot audit ...``: verify the audit log's hash chain, list its entries.

``verify`` exits 0 when every entry is intact and linked, 1 when it finds a problem (each named
by row id, chain position and what is wrong), so it can run from cron or CI.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy import select
from sqlalchemy.engine import Connection

from voicebot.commands.store_work import run_on_store
from voicebot.privacy.audit_chain import Verification, verify
from voicebot.store import Store, db_option
from voicebot.store.models import AUDIT_EVENTS

T = TypeVar("T")


def with_connection(db: str | None, work: Callable[[Connection], T]) -> T:
    """Open the store, run ``work`` on a sync connection, close it."""
    return with_store(db, lambda _store, conn: work(conn))


def with_store(db: str | None, work: Callable[[Store, Connection], T]) -> T:
    """Open the store, run ``work`` with it and a sync connection, close it."""

    async def on(store: Store) -> T:
        async with store.engine.connect() as conn:
            return await conn.run_sync(lambda sync: work(store, sync))

    return run_on_store(db, on, errors=(ValueError,))  # ValueError: a --db it cannot open


def _parse_anchor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, sep, digest = value.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter(
            f"{value!r}: expected SEQ:HASH as printed by `voicebot audit verify`",
            param_hint="--anchor",
        )
    return int(seq), digest.lower()


@click.group()
def audit() -> None:
    """The tamper-evident audit log: verify its chain, list entries."""


@audit.command("verify")
@click.option(
    "--anchor",
    metavar="SEQ:HASH",
    default=None,
    help="A head printed by an earlier verify (kept elsewhere): it must still be in the chain.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@db_option
def verify_command(anchor: str | None, as_json: bool, db: str | None) -> None:
    """Check that no audit entry was edited, deleted, inserted or reordered (exit 1 if one was).

    The newest entries too: the chain must reach the high-water mark sealed under the master
    key, so a tail cut off or an emptied table is found without --anchor.
    """
    expected = _parse_anchor(anchor)
    report: Verification = with_store(
        db, lambda store, conn: verify(conn, expected, store.watermark)
    )
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        _print(report)
    if not report.ok:
        raise SystemExit(1)


def _print(report: Verification) -> None:
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if report.ok:
        start = f" (from checkpoint of seq {report.anchored_at})" if report.anchored_at else ""
        click.echo(f"audit chain intact: {report.rows} entries{start}")
        if report.mark_seq is not None:
            click.echo(f"sealed high-water mark: seq {report.mark_seq} (reached)")
        if report.head_seq is not None:
            click.echo(f"head: {report.head_seq}:{report.head_hash}")
            click.echo("keep this head elsewhere; check it later with --anchor")
        return
    click.echo(f"audit chain BROKEN: {len(report.problems)} problem(s) in {report.rows} entries")
    for problem in report.problems:
        if problem.seq is None and problem.id is None:
            click.echo(f"  {problem.message}")
            continue
        where = f"id {problem.id}" if problem.id is not None else "id -"
        click.echo(f"  position {problem.position}, seq {problem.seq}, {where}: {problem.message}")


@audit.command("list")
@click.option("--kind", default=None, help="Only entries of this kind (reserve, check, ...).")
@click.option("--since", default=None, metavar="ISO-8601", help="Only entries at or after this.")
@click.option("--limit", default=50, show_default=True, help="The newest N entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@db_option
def list_command(
    kind: str | None, since: str | None, limit: int, as_json: bool, db: str | None
) -> None:
    """The newest audit entries, oldest first (numbers are stored masked)."""
    query = select(AUDIT_EVENTS).order_by(AUDIT_EVENTS.c.seq.desc()).limit(limit)
    if kind is not None:
        query = query.where(AUDIT_EVENTS.c.kind == kind)
    if since is not None:
        try:
            start = dt.datetime.fromisoformat(since)
        except ValueError:
            raise click.BadParameter(f"{since!r} is not ISO 8601", param_hint="--since") from None
        if start.tzinfo is None:
            raise click.BadParameter(f"{since!r} has no UTC offset", param_hint="--since")
        query = query.where(AUDIT_EVENTS.c.at >= start)

    def rows(conn: Connection) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in conn.execute(query)]

    for row in reversed(with_connection(db, rows)):
        if as_json:
            row["at"] = row["at"].isoformat()
            click.echo(json.dumps(row, ensure_ascii=False))
            continue
        verdict = {True: "allowed", False: "denied", None: ""}[row["allowed"]]
        reasons = ",".join(row["reasons"])
        click.echo(
            f"{row['seq']:>6} {row['at']:%Y-%m-%d %H:%M:%S} {row['kind']:<14} "
            f"{row['number_masked']:<14} {verdict} {reasons} {json.dumps(row['detail'])}".rstrip()
        )
