"""Campaign rows by name: created on first use so attempts and DNC entries can refer to them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from voicebot.store.models import CAMPAIGNS

_campaigns = CAMPAIGNS


class CampaignPurposeMismatch(ValueError):
    """A campaign name is reused with another purpose (its rules would silently change)."""


async def campaign_id(conn: AsyncConnection, name: str, purpose: str, now: dt.datetime) -> int:
    """The id of campaign ``name``, creating it with ``purpose`` if it does not exist.

    Raises:
        CampaignPurposeMismatch: the campaign exists with another purpose.
    """
    row = (
        await conn.execute(
            select(_campaigns.c.id, _campaigns.c.purpose).where(_campaigns.c.name == name)
        )
    ).first()
    if row is None:
        result = await conn.execute(
            insert(_campaigns)
            .values(name=name, purpose=purpose, created_at=now)
            .returning(_campaigns.c.id)
        )
        return int(result.scalar_one())
    if row.purpose != purpose:
        raise CampaignPurposeMismatch(
            f"campaign {name!r} is a {row.purpose} campaign, not {purpose}"
        )
    return int(row.id)


async def find_campaign_id(conn: AsyncConnection, name: str) -> int | None:
    """The id of campaign ``name``, or None when there is no such campaign."""
    found = await conn.execute(select(_campaigns.c.id).where(_campaigns.c.name == name))
    value = found.scalar_one_or_none()
    return int(value) if value is not None else None
