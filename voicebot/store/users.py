"""People who sign in to the web console: names, password hashes, roles and TOTP secrets.

Kept apart from :mod:`voicebot.store.models` (the calling engine's tables) because it changes for
another reason: who may use the console, not what the engine did. The table lives on the same
declarative ``Base`` so one Alembic history covers both (migration ``0100``).

Passwords arrive here already hashed (:mod:`voicebot.web.auth` hashes them); this module never
sees a clear-text password. A password change, a role change and a removal end the user's console
sessions in the same transaction (:mod:`voicebot.store.web_sessions`), whoever makes the change:
the console or ``voicebot users``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Integer,
    Row,
    String,
    Table,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.store.models import Base, UTCDateTime
from voicebot.store.web_sessions import end_user_sessions


class Role(enum.StrEnum):
    """What a console user may do (see ``voicebot.web.rbac`` for the route table)."""

    ADMIN = "admin"
    DESIGNER = "designer"
    AGENT = "agent"
    AUDITOR = "auditor"


class WebUser(Base):
    """One console account. ``roles`` is a list of :class:`Role` values."""

    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    """The newest TOTP time step accepted from this user: each code works once (migration 0720)."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def _users_table() -> Table:
    table = WebUser.__table__
    assert isinstance(table, Table)
    return table


WEB_USERS = _users_table()

NAME_MAX = 64


class UserError(ValueError):
    """A user operation that cannot be done as asked (unknown name, duplicate, bad role)."""


@dataclass(frozen=True)
class User:
    """A console account as read from the store."""

    id: int
    name: str
    password_hash: str
    roles: frozenset[Role]
    totp_secret: str | None
    disabled: bool
    created_at: dt.datetime
    password_changed_at: dt.datetime


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Roles from their names; an unknown name is an error that lists the valid ones."""
    roles: set[Role] = set()
    for value in values:
        try:
            roles.add(Role(value.strip().lower()))
        except ValueError:
            valid = ", ".join(r.value for r in Role)
            raise UserError(f"unknown role {value!r}: expected one of {valid}") from None
    return frozenset(roles)


def check_name(name: str) -> str:
    """A user name: 1-64 characters of letters, digits, ``.``, ``_``, ``-`` or ``@``."""
    if not 1 <= len(name) <= NAME_MAX or not all(c.isalnum() or c in "._-@" for c in name):
        raise UserError(
            f"invalid user name {name!r}: expected 1-{NAME_MAX} letters, digits, '.', '_', '-', '@'"
        )
    return name


def _row_to_user(row: Row[Any]) -> User:
    mapping = row._mapping
    return User(
        id=mapping["id"],
        name=mapping["name"],
        password_hash=mapping["password_hash"],
        roles=parse_roles(mapping["roles"] or []),
        totp_secret=mapping["totp_secret"],
        disabled=bool(mapping["disabled"]),
        created_at=mapping["created_at"],
        password_changed_at=mapping["password_changed_at"],
    )


async def get_user(
    conn: AsyncConnection, *, name: str | None = None, user_id: int | None = None
) -> User | None:
    """The user with this name or id, or ``None``."""
    column, value = (WEB_USERS.c.name, name) if name is not None else (WEB_USERS.c.id, user_id)
    query = select(WEB_USERS).where(column == value)
    row = (await conn.execute(query)).first()
    return _row_to_user(row) if row is not None else None


async def list_users(conn: AsyncConnection) -> Sequence[User]:
    """Every account, by name."""
    rows = (await conn.execute(select(WEB_USERS).order_by(WEB_USERS.c.name))).all()
    return [_row_to_user(row) for row in rows]


async def add_user(
    conn: AsyncConnection,
    *,
    name: str,
    password_hash: str,
    roles: frozenset[Role],
    totp_secret: str | None,
    now: dt.datetime,
) -> User:
    """Create an account; a taken name is a :class:`UserError`."""
    check_name(name)
    if await get_user(conn, name=name) is not None:
        raise UserError(f"user {name!r} already exists")
    await conn.execute(
        insert(WEB_USERS).values(
            name=name,
            password_hash=password_hash,
            roles=sorted(r.value for r in roles),
            totp_secret=totp_secret,
            disabled=False,
            created_at=now,
            password_changed_at=now,
        )
    )
    user = await get_user(conn, name=name)
    assert user is not None
    return user


async def set_password_hash(
    conn: AsyncConnection, name: str, password_hash: str, now: dt.datetime, *, rehash: bool = False
) -> None:
    """Store a new hash. A real change (not ``rehash``) ends the user's existing sessions."""
    values: dict[str, object] = {"password_hash": password_hash}
    if not rehash:
        values["password_changed_at"] = now
    user_id = await _update(conn, name, values)
    if not rehash:
        await end_user_sessions(conn, user_id)


async def set_roles(
    conn: AsyncConnection, name: str, roles: frozenset[Role], totp_secret: str | None
) -> None:
    """Replace the user's roles (and TOTP secret: admins must have one).

    A real change ends the user's sessions: they sign in again under the new roles (an admin
    role, for one, asks for the TOTP code at sign-in).
    """
    before = await get_user(conn, name=name)
    user_id = await _update(
        conn, name, {"roles": sorted(r.value for r in roles), "totp_secret": totp_secret}
    )
    if before is None or before.roles != roles:
        await end_user_sessions(conn, user_id)


async def claim_totp_step(conn: AsyncConnection, user_id: int, step: int) -> bool:
    """Spend TOTP time ``step`` for the user; ``False`` if it is not newer than the last spent.

    One conditional UPDATE, so two server processes given the same code at once cannot both
    accept it: a code watched over the admin's shoulder is spent everywhere.
    """
    last = WEB_USERS.c.totp_last_step
    query = (
        update(WEB_USERS)
        .where(WEB_USERS.c.id == user_id, or_(last.is_(None), last < step))
        .values(totp_last_step=step)
    )
    return bool((await conn.execute(query)).rowcount == 1)


async def remove_user(conn: AsyncConnection, name: str) -> User:
    """Delete an account and end its sessions; returns what it was (for the audit row).

    Raises:
        UserError: no user has that name.
    """
    user = await get_user(conn, name=name)
    if user is None:
        raise UserError(f"no user named {name!r}")
    await end_user_sessions(conn, user.id)
    await conn.execute(delete(WEB_USERS).where(WEB_USERS.c.id == user.id))
    return user


async def _update(conn: AsyncConnection, name: str, values: dict[str, object]) -> int:
    """Update the named user's row; returns their id."""
    query = update(WEB_USERS).where(WEB_USERS.c.name == name).values(**values)
    user_id = (await conn.execute(query.returning(WEB_USERS.c.id))).scalar()
    if user_id is None:
        raise UserError(f"no user named {name!r}")
    return int(user_id)
