"""Campaign leases: which process runs a campaign now (one row per running campaign).

A lease names its holder (host, pid, a random token) and expires unless its holder renews it;
see :mod:`voicebot.campaign.lease` for the rules. Its own migration (``0710_campaign_lease``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.store.models import Base, UTCDateTime


class CampaignLeaseRow(Base):
    """The lease of one campaign: held by one process at a time until it expires."""

    __tablename__ = "campaign_leases"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    """Random per holding: a renewal or release only touches the lease its holder took."""
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    renewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def _table() -> Table:
    table = CampaignLeaseRow.__table__
    assert isinstance(table, Table)
    return table


CAMPAIGN_LEASES = _table()
