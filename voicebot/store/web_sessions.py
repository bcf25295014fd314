"""Console sessions the server can end: one row per signed-in browser, keyed by a token's hash.

The session cookie stays encrypted (it carries the user id and the CSRF token), but it is no
longer enough on its own: it must also name a row here that is still open. Signing out deletes
the row, and a password change, a role change or the user's removal deletes all the user's
rows, so a copied cookie dies with its session, on every server process sharing the store.
Only a SHA-256 of the token is stored, so reading the table gives nobody a usable session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import ForeignKey, String, Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.store.engine import Store
from voicebot.store.models import Base, UTCDateTime


class WebSession(Base):
    """One open console session: whose, since when, and until when at the latest."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def _table() -> Table:
    table = WebSession.__table__
    assert isinstance(table, Table)
    return table


WEB_SESSIONS = _table()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def open_session(
    conn: AsyncConnection, user_id: int, now: dt.datetime, lifetime: dt.timedelta
) -> str:
    """Record a new session for ``user_id`` and return its token (goes into the cookie only).

    Sessions that have expired by ``now`` are swept out on the way, so the table stays small.
    """
    await conn.execute(delete(WEB_SESSIONS).where(WEB_SESSIONS.c.expires_at <= now))
    token = secrets.token_urlsafe(32)
    await conn.execute(
        insert(WEB_SESSIONS).values(
            token_hash=_hash(token), user_id=user_id, created_at=now, expires_at=now + lifetime
        )
    )
    return token


async def session_is_open(
    conn: AsyncConnection, token: str, user_id: int, now: dt.datetime
) -> bool:
    """Whether ``token`` names an open, unexpired session of ``user_id``."""
    query = select(WEB_SESSIONS.c.user_id).where(
        WEB_SESSIONS.c.token_hash == _hash(token), WEB_SESSIONS.c.expires_at > now
    )
    owner = (await conn.execute(query)).scalar()
    return owner == user_id


async def end_session(conn: AsyncConnection, token: str) -> None:
    """End one session (sign-out); ending an unknown or ended one is not an error."""
    await conn.execute(delete(WEB_SESSIONS).where(WEB_SESSIONS.c.token_hash == _hash(token)))


async def end_user_sessions(conn: AsyncConnection, user_id: int) -> int:
    """End every session of a user (password or role change, removal); returns how many."""
    result = await conn.execute(delete(WEB_SESSIONS).where(WEB_SESSIONS.c.user_id == user_id))
    return int(result.rowcount or 0)


async def count_sessions(store: Store, user_id: int | None = None) -> int:
    """Open sessions, of everyone or of one user (tests and the operator's curiosity)."""
    query = select(func.count()).select_from(WEB_SESSIONS)
    if user_id is not None:
        query = query.where(WEB_SESSIONS.c.user_id == user_id)
    async with store.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())
