"""``voicebot users ...``: console accounts from the command line (the first admin starts here).

A new password, new roles or a removal end the user's console sessions at once, on every
server sharing the store.

Passwords are prompted for (hidden, twice) or read from stdin with ``--password-stdin``; they
never appear in arguments or output. An admin's TOTP provisioning URI is printed once, when the
admin role is given; it is not shown again. Every change is audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from voicebot.commands.store_work import run_on_store
from voicebot.privacy.audit import write_audit
from voicebot.store import Store, db_option
from voicebot.store.users import (
    Role,
    UserError,
    add_user,
    check_name,
    get_user,
    list_users,
    parse_roles,
    remove_user,
    set_password_hash,
    set_roles,
)
from voicebot.web.auth import Passwords, WeakPassword, new_totp_secret, totp_uri
from voicebot.web.context import AUDIT_POLICY_VERSION

T = TypeVar("T")
_ROLE_NAMES = [r.value for r in Role]


def _run(db: str | None, work: Callable[[Store], Awaitable[T]]) -> T:
    return run_on_store(db, work, errors=(UserError, WeakPassword))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.ClickException("--password-stdin: no password on standard input")
        return line
    value: Any = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(value)


def _new_hash(name: str, from_stdin: bool) -> str:
    try:
        check_name(name)
        return Passwords().hash(_read_password(from_stdin), user=name)
    except (UserError, WeakPassword) as exc:
        raise click.ClickException(str(exc)) from None


def _roles(values: tuple[str, ...]) -> frozenset[Role]:
    names = [part for value in values for part in value.split(",") if part.strip()]
    if not names:
        raise click.UsageError(f"give at least one role: {', '.join(_ROLE_NAMES)}")
    try:
        return parse_roles(names)
    except UserError as exc:
        raise click.BadParameter(str(exc)) from None


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


async def _audit(conn: Any, kind: str, **detail: Any) -> None:
    await write_audit(
        conn,
        at=dt.datetime.now(dt.UTC),
        kind=kind,
        number_masked="",
        policy_version=AUDIT_POLICY_VERSION,
        detail={"actor": _actor(), **detail},
    )


_password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


@click.group()
def users() -> None:
    """Add console users, change their passwords and roles, list them."""


@users.command()
@click.argument("name")
@click.option(
    "--role", "roles", multiple=True, required=True, metavar="ROLE",
    help=f"A role ({', '.join(_ROLE_NAMES)}); repeat or comma-separate for several.",
)  # fmt: skip
@_password_stdin
@db_option
def add(name: str, roles: tuple[str, ...], password_stdin: bool, db: str | None) -> None:
    """Create user NAME (admins get a TOTP secret: the URI is printed once)."""
    wanted = _roles(roles)
    password_hash = _new_hash(name, password_stdin)
    secret = new_totp_secret() if Role.ADMIN in wanted else None

    async def work(store: Store) -> None:
        async with store.write() as conn:
            await add_user(
                conn,
                name=name,
                password_hash=password_hash,
                roles=wanted,
                totp_secret=secret,
                now=dt.datetime.now(dt.UTC),
            )
            await _audit(conn, "user_added", user=name, roles=sorted(wanted))

    _run(db, work)
    click.echo(f"added {name} ({', '.join(sorted(wanted))})")
    if secret is not None:
        _print_uri(name, secret)


@users.command()
@click.argument("name")
@_password_stdin
@db_option
def passwd(name: str, password_stdin: bool, db: str | None) -> None:
    """Set a new password for NAME (ends the user's sessions)."""
    password_hash = _new_hash(name, password_stdin)

    async def work(store: Store) -> None:
        async with store.write() as conn:
            await set_password_hash(conn, name, password_hash, dt.datetime.now(dt.UTC))
            await _audit(conn, "password_changed", user=name)

    _run(db, work)
    click.echo(f"password changed for {name}")


@users.command(name="roles")
@click.argument("name")
@click.option(
    "--set", "roles", multiple=True, required=True, metavar="ROLE",
    help="The complete new set of roles; repeat or comma-separate.",
)  # fmt: skip
@db_option
def roles_(name: str, roles: tuple[str, ...], db: str | None) -> None:
    """Replace NAME's roles (giving admin creates a TOTP secret: its URI is printed once)."""
    wanted = _roles(roles)

    async def work(store: Store) -> str | None:
        async with store.write() as conn:
            user = await get_user(conn, name=name)
            if user is None:
                raise UserError(f"no user named {name!r}")
            secret = new_totp_secret() if Role.ADMIN in wanted and not user.totp_secret else None
            await set_roles(conn, name, wanted, secret or user.totp_secret)
            await _audit(
                conn, "roles_changed", user=name, before=sorted(user.roles), after=sorted(wanted)
            )
            return secret

    secret = _run(db, work)
    click.echo(f"{name}: {', '.join(sorted(wanted))}")
    if secret is not None:
        _print_uri(name, secret)


@users.command()
@click.argument("name")
@db_option
def remove(name: str, db: str | None) -> None:
    """Remove user NAME (their console sessions end at once)."""

    async def work(store: Store) -> None:
        async with store.write() as conn:
            user = await get_user(conn, name=name)
            if user is None:
                raise UserError(f"no user named {name!r}")
            if Role.ADMIN in user.roles:
                admins = [u for u in await list_users(conn) if Role.ADMIN in u.roles]
                if len(admins) == 1:
                    raise UserError(f"{name} is the last admin: give another user admin first")
            await remove_user(conn, name)
            await _audit(conn, "user_removed", user=name, roles=sorted(user.roles))

    _run(db, work)
    click.echo(f"removed {name}")


@users.command(name="list")
@db_option
def list_(db: str | None) -> None:
    """List the users and their roles."""

    async def work(store: Store) -> list[tuple[str, str, bool]]:
        async with store.engine.connect() as conn:
            found = await list_users(conn)
        return [(u.name, ",".join(sorted(u.roles)), u.totp_secret is not None) for u in found]

    for name, roles, totp in _run(db, work):
        click.echo(f"{name}\t{roles}\t{'totp' if totp else '-'}")


def _print_uri(name: str, secret: str) -> None:
    click.echo(
        f"TOTP for {name} (add it to an authenticator app now; it is not shown again):\n"
        f"{totp_uri(name, secret)}"
    )
