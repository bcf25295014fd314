"""Campaign rows by name: created on first use so attempts and DNC entries can refer to them.

Plain sync functions on a connection; async callers use ``await conn.run_sync(...)``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection

from voicebot.store.models import CAMPAIGNS

_BY_NAME = select(CAMPAIGNS.c.id, CAMPAIGNS.c.purpose).where(CAMPAIGNS.c.name == bindparam("name"))
_INSERT = insert(CAMPAIGNS).returning(CAMPAIGNS.c.id)


class CampaignPurposeMismatch(ValueError):
    """A campaign name is reused with another purpose (its rules would silently change)."""


def campaign_id(conn: Connection, name: str, purpose: str, now: dt.datetime) -> int:
    """The id of campaign ``name``, creating it with ``purpose`` if it does not exist.

    Raises:
        CampaignPurposeMismatch: the campaign exists with another purpose.
    """
    row = conn.execute(_BY_NAME, {"name": name}).first()
    if row is None:
        created = conn.execute(_INSERT, {"name": name, "purpose": purpose, "created_at": now})
        return int(created.scalar_one())
    if row.purpose != purpose:
        raise CampaignPurposeMismatch(
            f"campaign {name!r} is a {row.purpose} campaign, not {purpose}"
        )
    return int(row.id)


def find_campaign_id(conn: Connection, name: str) -> int | None:
    """The id of campaign ``name``, or None when there is no such campaign."""
    row = conn.execute(_BY_NAME, {"name": name}).first()
    return int(row.id) if row is not None else None
