"""Campaigns run by shared workers: which file each runs and whether it may dial.

``voicebot campaign start`` writes a row; every ``voicebot worker`` reads it before each call, so
``pause``, ``resume`` and ``stop`` reach all workers on all machines through the store. Its own
migration (``0800_jobs``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.store.models import Base, UTCDateTime

ACTIVE = "active"
PAUSED = "paused"
STOPPED = "stopped"
STATES = (ACTIVE, PAUSED, STOPPED)


class CampaignRunRow(Base):
    """One campaign handed to the workers."""

    __tablename__ = "campaign_runs"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    """The campaign file's absolute path: every worker host must see it at that path."""
    policy: Mapped[str | None] = mapped_column(Text)
    """The policy file's absolute path, or none for the defaults."""
    state: Mapped[str] = mapped_column(String(10))
    dev: Mapped[bool] = mapped_column(Boolean)
    """Run even an unapproved flow (audited at start)."""
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def _table() -> Table:
    table = CampaignRunRow.__table__
    assert isinstance(table, Table)
    return table


CAMPAIGN_RUNS = _table()
