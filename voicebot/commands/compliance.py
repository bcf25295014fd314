"""``voicebot compliance ...``: ask the gate what-if questions and explain a number's history.

``check`` never reserves (it does not consume a cap) but its decision is audited like any other.
Helpers shared by the ``dnc`` and ``review`` commands (store, policy, time, number display) live
here too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from voicebot.commands.store_work import run_on_store
from voicebot.compliance.policy import Policy, load_policy, user_policy_path
from voicebot.compliance.review import ReviewError
from voicebot.compliance.rules import AttemptStateError
from voicebot.compliance.zones import parse_callee
from voicebot.privacy import mask_number
from voicebot.privacy.number_keys import NumberKeyMissing, SealedNumberError
from voicebot.privacy.numbers import InvalidNumber
from voicebot.privacy.vault.errors import KeyFileError
from voicebot.purpose import Purpose
from voicebot.store import Store, db_option
from voicebot.yamlsource import SourceErrors

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def policy_option(func: F) -> F:
    """``--policy FILE``: the user's policy overriding the shipped defaults."""
    option = click.option(
        "--policy",
        "policy_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Policy YAML overriding the defaults (default: $VOICEBOT_POLICY, else the user "
        "config dir's policy.yaml if present).",
    )
    return option(func)


AT_YEARS = (1970, 9000)
"""Years ``--at`` accepts."""


def parse_at(value: str | None) -> dt.datetime:
    """``--at`` as an aware datetime (now, in UTC, when absent)."""
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not ISO 8601", param_hint="--at") from None
    if at.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} has no UTC offset; write e.g. 2026-11-23T12:00:00+08:00", param_hint="--at"
        )
    if not AT_YEARS[0] <= at.year <= AT_YEARS[1]:  # zone and calendar maths overflow beyond
        raise click.BadParameter(
            f"{value!r} is out of range; expected a year from {AT_YEARS[0]} to {AT_YEARS[1]}",
            param_hint="--at",
        )
    return at


def show(number: str, unmasked: bool) -> str:
    """A number as output shows it: masked unless explicitly asked for in full."""
    return number if unmasked else mask_number(number)


def require_valid(number: str) -> None:
    """Refuse an invalid number before anything is opened or written (exit code 2)."""
    try:
        parse_callee(number)
    except InvalidNumber as exc:
        raise click.UsageError(str(exc)) from None


def run_with_store(
    db: str | None, policy_file: Path | None, work: Callable[[Store, Policy], Awaitable[T]]
) -> T:
    """Load the policy, open the store, run ``work``; turn known errors into clean CLI errors."""
    known: tuple[type[Exception], ...] = (
        SourceErrors, InvalidNumber, LookupError, ReviewError, AttemptStateError,
        NumberKeyMissing, SealedNumberError, KeyFileError,
    )  # fmt: skip
    try:
        policy = load_policy(user_policy_path(policy_file))
    except known as exc:
        raise click.ClickException(str(exc)) from None
    return run_on_store(db, lambda store: work(store, policy), errors=known)


@click.group()
def compliance() -> None:
    """Check a number against the policy and explain its history."""


@compliance.command()
@click.argument("number")
@click.option(
    "--purpose",
    type=click.Choice([p.value for p in Purpose]),
    required=True,
    help="Why the call would be made.",
)
@click.option("--at", "at", metavar="ISO-8601", help="Instant to check (with offset); default now.")
@click.option("--campaign", default=None, help="Also apply this campaign's do-not-call entries.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@db_option
@policy_option
def check(
    number: str,
    purpose: str,
    at: str | None,
    campaign: str | None,
    as_json: bool,
    db: str | None,
    policy_file: Path | None,
) -> None:
    """May NUMBER be called for PURPOSE at --at? (What-if: no cap is consumed; audited.)

    JSON keys: allowed, reasons (codes), not_before (ISO 8601 in the callee's offset, or null).
    An invalid number is an error (exit 2) and nothing is written.
    """
    from voicebot.compliance.decision import Decision, Reason
    from voicebot.compliance.gate import Gate

    now = parse_at(at)

    async def work(store: Store, policy: Policy) -> Any:
        return await Gate(store, policy).check(number, Purpose(purpose), now, campaign)

    try:
        parse_callee(number)
    except InvalidNumber as exc:  # nothing is opened, nothing is written
        decision = Decision(
            False, (Reason.INVALID_NUMBER,), None, None, mask_number(number), "", (str(exc),)
        )
    else:
        decision = run_with_store(db, policy_file, work)
    if as_json:
        click.echo(json.dumps(decision.to_json(), ensure_ascii=False))
    if Reason.INVALID_NUMBER in decision.reasons:
        click.echo(f"Error: {decision.detail[0]}", err=True)
        raise SystemExit(2)
    if as_json:
        return
    if decision.allowed:
        click.echo(f"{decision.number_masked}: allowed ({purpose}, {now.isoformat()})")
        return
    codes = ", ".join(r.value for r in decision.reasons)
    when = decision.not_before.isoformat() if decision.not_before else "never / unknown"
    click.echo(f"{decision.number_masked}: denied ({codes}); not before {when}")
    for note in decision.detail:
        click.echo(f"  {note}")


@compliance.command()
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@click.option("--show-numbers", is_flag=True, help="Print the number unmasked.")
@db_option
def explain(number: str, as_json: bool, show_numbers: bool, db: str | None) -> None:
    """NUMBER's history: attempts, outcomes, freezes, do-not-call entries and their source."""
    require_valid(number)
    from voicebot.compliance.explain import NumberHistory
    from voicebot.compliance.explain import explain as explain_number

    async def work(store: Store, _policy: Policy) -> NumberHistory:
        return await explain_number(store, number)

    history = run_with_store(db, None, work)
    shown = show(history.number, show_numbers)
    if as_json:
        click.echo(json.dumps(_history_json(history, shown), ensure_ascii=False, default=str))
        return
    console = Console()
    if not console.is_terminal:  # a file or a pipe: never cut a column to a terminal's width
        console = Console(width=1000)
    console.print(f"[bold]{shown}[/bold]")
    _print_table(
        console,
        "Attempts",
        ["id", "campaign", "purpose", "state", "reserved at", "local day", "outcome", "talk s"],
        [
            [a.id, a.campaign, a.purpose, a.state, a.reserved_at, a.local_day, a.outcome,
             a.talk_seconds]
            for a in history.attempts
        ],
    )  # fmt: skip
    _print_table(
        console,
        "Freezes",
        ["since", "until", "reason", "source"],
        [[f.since, f.until, f.reason, f.source] for f in history.freezes],
    )
    _print_table(
        console,
        "Do-not-call",
        ["scope", "source", "since"],
        [[d.campaign or "global", d.source, d.created_at] for d in history.dnc],
    )
    console.print(_erased_line(history.erased))
    _print_table(
        console,
        "Refusal reviews",
        ["id", "attempt", "status", "created", "decided by", "note"],
        [
            [r.id, r.attempt_id, r.status, r.created_at, r.decided_by, r.note]
            for r in history.reviews
        ],
    )


def _erased_line(erased: bool | None) -> str:
    if erased is None:
        return (
            "Erased: unknown (erased numbers are on the do-not-call list as keyed hashes, and no "
            "master key is loaded to check them)"
        )
    if erased:
        return (
            "Erased: yes; the number's data was erased and it stays on the do-not-call list as a "
            "keyed hash (never called again)"
        )
    return "Erased: no"


def _history_json(history: Any, shown: str) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(history)
    data["number"] = shown
    for key in ("dnc", "reviews"):
        for item in data[key]:
            if "number" in item:
                item["number"] = shown
    return data


def _print_table(console: Console, title: str, columns: list[str], rows: list[list[Any]]) -> None:
    if not rows:
        console.print(f"{title}: none")
        return
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
