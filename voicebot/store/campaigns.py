"""Campaign rows by name: created on first use so attempts and DNC entries can refer to them.

Plain sync functions on a connection; async callers use ``await conn.run_sync(...)``.
Create-or-get is race-free on both dialects: ``INSERT ... ON CONFLICT DO NOTHING`` then a
``SELECT``, so several processes using a new campaign at once all get the one row.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from voicebot.store.models import CAMPAIGNS

_BY_NAME = select(CAMPAIGNS.c.id, CAMPAIGNS.c.purpose).where(CAMPAIGNS.c.name == bindparam("name"))


class CampaignPurposeMismatch(ValueError):
    """A campaign name is reused with another purpose (its rules would silently change)."""


def campaign_id(conn: Connection, name: str, purpose: str, now: dt.datetime) -> int:
    """The id of campaign ``name``, creating it with ``purpose`` if it does not exist.

    Raises:
        CampaignPurposeMismatch: the campaign exists with another purpose.
    """
    row = conn.execute(_BY_NAME, {"name": name}).first()
    if row is None:
        # Another process may create it between our SELECT and INSERT: the loser's insert does
        # nothing, and both read the winner's row (PostgreSQL sees it once the winner commits,
        # as the insert waits on the winner's uncommitted key).
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(
            dialect_insert(CAMPAIGNS)
            .values(name=name, purpose=purpose, created_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = conn.execute(_BY_NAME, {"name": name}).one()
    if row.purpose != purpose:
        raise CampaignPurposeMismatch(
            f"campaign {name!r} is a {row.purpose} campaign, not {purpose}"
        )
    return int(row.id)


def find_campaign_id(conn: Connection, name: str) -> int | None:
    """The id of campaign ``name``, or None when there is no such campaign."""
    row = conn.execute(_BY_NAME, {"name": name}).first()
    return int(row.id) if row is not None else None
