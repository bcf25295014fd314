"""``voicebot qa report``: the per-call QA checklists, failures first-class.

Each stored call shows its failed checks with the evidence (times in seconds); ``--all`` lists
passing calls too, ``--json`` prints every check of every call. Numbers are masked.
"""

from __future__ import annotations

import json
from collections import Counter

import click
from rich.console import Console
from rich.table import Table

from voicebot.commands.store_work import run_on_store
from voicebot.qa.checks import Status
from voicebot.qa.store import StoredQa, load_qa
from voicebot.store import db_option

EXIT_FAILURES = 1


@click.group()
def qa() -> None:
    """Per-call QA: disclosure, opt-out, window and recording notice, from each call's log."""


@qa.command()
@click.option("--campaign", default=None, help="Only the calls of this campaign.")
@click.option("--all", "show_all", is_flag=True, help="List passing calls too.")
@click.option("--json", "as_json", is_flag=True, help="Print every check of every call as JSON.")
@click.option("--strict", is_flag=True, help=f"Exit {EXIT_FAILURES} when any call failed a check.")
@db_option
def report(
    campaign: str | None, show_all: bool, as_json: bool, strict: bool, db: str | None
) -> None:
    """Show the QA results of stored calls (failures flagged with their evidence)."""

    rows: list[StoredQa] = run_on_store(
        db, lambda store: load_qa(store, campaign=campaign), errors=(LookupError,)
    )
    failed = [r for r in rows if not r.passed]
    if as_json:
        click.echo(json.dumps(_document(rows, campaign), ensure_ascii=False, indent=2))
    else:
        _print(rows if show_all else failed, rows, failed)
    if strict and failed:
        raise SystemExit(EXIT_FAILURES)


def _document(rows: list[StoredQa], campaign: str | None) -> dict[str, object]:
    failures = Counter(name for r in rows for name in r.result.failures)
    return {
        "campaign": campaign,
        "calls": len(rows),
        "failed_calls": sum(not r.passed for r in rows),
        "failures_by_check": dict(sorted(failures.items())),
        "results": [
            {
                "attempt_id": r.attempt_id,
                "campaign": r.campaign,
                "number": r.number_masked,
                "checked_at": r.checked_at.isoformat(),
                "passed": r.passed,
                "failures": list(r.result.failures),
                "checks": r.result.as_list(),
            }
            for r in rows
        ],
    }


def _print(shown: list[StoredQa], rows: list[StoredQa], failed: list[StoredQa]) -> None:
    console = Console(highlight=False)
    console.print(f"{len(rows)} calls checked, {len(failed)} with QA failures")
    if not shown:
        return
    table = Table()
    for column in ("attempt", "campaign", "number", "check", "status"):
        table.add_column(column, no_wrap=True)
    table.add_column("evidence")
    for r in shown:
        checks = [c for c in r.result.checks if c.status is Status.FAIL] or list(r.result.checks)
        for i, check in enumerate(checks):
            style = "red" if check.status is Status.FAIL else None
            table.add_row(
                str(r.attempt_id) if i == 0 else "",
                (r.campaign or "-") if i == 0 else "",
                r.number_masked if i == 0 else "",
                check.name.value,
                check.status.value,
                check.evidence,
                style=style,
            )
    console.print(table)
