"""Failed console sign-ins, per account and per client address, kept in the store.

The login limiter (:mod:`voicebot.web.ratelimit`) reads and writes these rows, so every console
process sharing the store counts the same failures and honours the same lockouts: a guesser who
spreads attempts over several servers gets no more tries than against one. A key is stored only
as a SHA-256 of its scope and value (no account name or address in the clear); a row idle for a
day is swept out by the next failure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import JSON, Integer, String, Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.store.models import Base, UTCDateTime

IDLE_SWEEP = dt.timedelta(days=1)
"""Rows untouched this long are forgotten (their failures and backoff with them)."""


class LoginAttempt(Base):
    """One limited key: its recent failures, its lockout and how many lockouts it has had."""

    __tablename__ = "login_attempts"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[list[str]] = mapped_column(JSON)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


def _table() -> Table:
    table = LoginAttempt.__table__
    assert isinstance(table, Table)
    return table


LOGIN_ATTEMPTS = _table()


def key_hash(scope: str, key: str) -> str:
    """The stored name of ``key`` in ``scope`` (``account`` or ``address``)."""
    return hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()


@dataclass
class AttemptRecord:
    """A key's state as the limiter works on it."""

    failures: list[dt.datetime] = field(default_factory=list)
    locked_until: dt.datetime | None = None
    lockouts: int = 0


async def read_record(conn: AsyncConnection, digest: str) -> AttemptRecord | None:
    """The record stored under ``digest``, if any."""
    row = (
        await conn.execute(select(LOGIN_ATTEMPTS).where(LOGIN_ATTEMPTS.c.key_hash == digest))
    ).first()
    if row is None:
        return None
    failures = [dt.datetime.fromisoformat(t) for t in row.failures]
    return AttemptRecord(failures, row.locked_until, row.lockouts)


async def write_record(
    conn: AsyncConnection, digest: str, record: AttemptRecord, now: dt.datetime, *, new: bool
) -> None:
    """Store ``record`` under ``digest`` (``new``: no row exists yet); sweeps idle rows."""
    await conn.execute(delete(LOGIN_ATTEMPTS).where(LOGIN_ATTEMPTS.c.updated_at < now - IDLE_SWEEP))
    values = {
        "failures": [t.isoformat() for t in record.failures],
        "locked_until": record.locked_until,
        "lockouts": record.lockouts,
        "updated_at": now,
    }
    if new:
        await conn.execute(insert(LOGIN_ATTEMPTS).values(key_hash=digest, **values))
    else:
        await conn.execute(
            update(LOGIN_ATTEMPTS).where(LOGIN_ATTEMPTS.c.key_hash == digest).values(**values)
        )


async def forget(conn: AsyncConnection, digest: str) -> None:
    """Drop the record stored under ``digest`` (a successful sign-in clears its account)."""
    await conn.execute(delete(LOGIN_ATTEMPTS).where(LOGIN_ATTEMPTS.c.key_hash == digest))
