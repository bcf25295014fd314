"""How agents closed the calls handed to them (sale, callback, not interested, ...).

Kept per attempt beside the bot's outcome (``handoff``): the outcome says the bot found a
person who wanted to talk, the disposition what came of it. Its own migration (``0500``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.store.models import Base, UTCDateTime


class CallDisposition(Base):
    """One agent's wrap-up of one attempt."""

    __tablename__ = "call_dispositions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    agent: Mapped[str] = mapped_column(String(64))
    disposition: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    """The agent's note, redacted and sealed (:mod:`voicebot.privacy.notes`); ``""``: none."""
    callback_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def _table() -> Table:
    table = CallDisposition.__table__
    assert isinstance(table, Table)
    return table


CALL_DISPOSITIONS = _table()
