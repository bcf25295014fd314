"""The tables of the engine's store, as SQLAlchemy 2 declarative models.

One schema for SQLite and PostgreSQL. Instants are stored in UTC (:class:`UTCDateTime`) and come
back as aware datetimes; a callee's local day is stored beside each attempt so that caps count
days in the callee's time, not the server's. No table holds a phone number in the clear: a row
keeps the number's keyed hash for lookups and its sealed (encrypted) copy for the dialer
(:mod:`voicebot.privacy.number_keys`); audit rows only ever hold the masked form.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as UTC; naive datetimes are refused, never guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass an aware datetime")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


class Campaign(Base):
    """A named run of calls with one purpose; attempts and campaign-scoped DNC refer to it."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


HASH_LENGTH = 64
"""``number_hash``: HMAC-SHA256 in hex."""
SEALED_LENGTH = 100
"""``number_sealed``: key id, a dot, base64 of nonce + ciphertext + tag (about 80 characters)."""


class Contact(Base):
    """A number to call within a campaign, with the row's fields for prompt variables (sealed:
    :meth:`~voicebot.privacy.number_keys.NumberKeys.open_fields`)."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_campaign_number_hash", "campaign_id", "number_hash", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    number_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), index=True)
    number_sealed: Mapped[str] = mapped_column(String(SEALED_LENGTH))
    fields_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Attempt(Base):
    """One dial: ``reserved`` before dialling, then ``released`` (never reached the network)
    or ``completed`` with an outcome. Reserved and completed attempts count toward the caps.
    An erased number's attempts stay with both number columns empty (anonymised)."""

    __tablename__ = "attempts"
    __table_args__ = (Index("ix_attempts_number_hash_day", "number_hash", "local_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH))
    number_sealed: Mapped[str | None] = mapped_column(String(SEALED_LENGTH))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    purpose: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(10))
    reserved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    local_day: Mapped[dt.date] = mapped_column(Date)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(20))
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    policy_version: Mapped[str] = mapped_column(String(80))


class DncEntry(Base):
    """A do-not-call entry: ``global`` (no campaign) or scoped to one campaign."""

    __tablename__ = "dnc_entries"
    __table_args__ = (Index("ix_dnc_number_hash", "number_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    number_sealed: Mapped[str] = mapped_column(String(SEALED_LENGTH))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Freeze(Base):
    """A period during which a number is not called, with why (rule or confirmed review)."""

    __tablename__ = "freezes"
    __table_args__ = (Index("ix_freezes_number_hash_until", "number_hash", "until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    number_sealed: Mapped[str] = mapped_column(String(SEALED_LENGTH))
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    until: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(200))


class ReviewItem(Base):
    """A spoken refusal waiting for a person: ``pending``, then ``confirmed`` or ``dismissed``."""

    __tablename__ = "review_queue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), index=True)
    number_sealed: Mapped[str] = mapped_column(String(SEALED_LENGTH))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"))
    status: Mapped[str] = mapped_column(String(10), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Append-only record of every decision and outcome (database triggers refuse edits).

    Hash-chained (:mod:`voicebot.privacy.audit_chain`): ``seq`` is the entry's position,
    ``prev_hash`` the previous entry's hash, ``hash`` its own."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    number_masked: Mapped[str] = mapped_column(String(24))
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    attempt_id: Mapped[int | None] = mapped_column(Integer)
    allowed: Mapped[bool | None] = mapped_column()
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    policy_version: Mapped[str] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int | None] = mapped_column(Integer, index=True, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditWatermark(Base):
    """The audit log's sealed high-water mark: one row, raised by every append
    (:mod:`voicebot.privacy.audit_watermark`); triggers refuse deleting it."""

    __tablename__ = "audit_watermark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    seal: Mapped[str | None] = mapped_column(String(100))


class ErasedNumber(Base):
    """A do-not-call entry kept after erasure: a keyed hash of the number, never the number.

    ``digest`` is HMAC-SHA256 under a key derived from master key ``key_id``
    (:mod:`voicebot.privacy.dnc_hash`), so the list cannot be reversed by hashing every number.
    """

    __tablename__ = "dnc_erased"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class FlowApproval(Base):
    """A reviewer's approval of one flow version: the hash of the flow and its prompts' texts.

    ``parts`` holds the hash of each part (the flow file, each prompt) so a refusal can say what
    changed since the last approval.
    """

    __tablename__ = "flow_approvals"
    __table_args__ = (Index("ix_flow_approvals_name_hash", "flow_name", "flow_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow_name: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(20))
    flow_hash: Mapped[str] = mapped_column(String(64))
    parts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reviewer: Mapped[str] = mapped_column(String(100))
    approved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CallQa(Base):
    """The per-call QA checklist of one attempt: every check with its evidence."""

    __tablename__ = "call_qa"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), unique=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    passed: Mapped[bool] = mapped_column()
    failures: Mapped[list[str]] = mapped_column(JSON, default=list)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class DialerEntry(Base):
    """The dialer's durable plan for one contact of a campaign: when it is due, what is in
    flight (``phase``: ``reserved`` before the dial, ``dialing`` once it may reach the network),
    how many retries and callbacks were used, and how it ended. A restart resumes from here.
    The contact's columns (the flow's variables) are sealed like its number."""

    __tablename__ = "dialer_queue"
    __table_args__ = (
        Index("ix_dialer_queue_campaign_number_hash", "campaign_id", "number_hash", unique=True),
        Index("ix_dialer_queue_campaign_status_due", "campaign_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    number_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    number_sealed: Mapped[str] = mapped_column(String(SEALED_LENGTH))
    line: Mapped[int] = mapped_column(Integer)
    fields_sealed: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"))
    phase: Mapped[str | None] = mapped_column(String(10))
    tries: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    last_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class NumberKey(Base):
    """A master key that has hashed and sealed numbers in this store (by id, never the key).

    The store refuses to open with a keyring that lacks one of these: its rows could no longer
    be matched (see :mod:`voicebot.privacy.number_keys`).
    """

    __tablename__ = "number_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Core handles for hot paths (the gate builds statements on tables, not ORM entities).
CAMPAIGNS = _table(Campaign)
CONTACTS = _table(Contact)
ATTEMPTS = _table(Attempt)
DNC_ENTRIES = _table(DncEntry)
FREEZES = _table(Freeze)
REVIEW_QUEUE = _table(ReviewItem)
AUDIT_EVENTS = _table(AuditEvent)
AUDIT_WATERMARK = _table(AuditWatermark)
FLOW_APPROVALS = _table(FlowApproval)
CALL_QA = _table(CallQa)
DNC_ERASED = _table(ErasedNumber)
DIALER_QUEUE = _table(DialerEntry)
NUMBER_KEYS = _table(NumberKey)

NUMBER_TABLES = (CONTACTS, ATTEMPTS, DNC_ENTRIES, FREEZES, REVIEW_QUEUE, DIALER_QUEUE)
"""Every table whose rows refer to a phone number (by ``number_hash`` and ``number_sealed``)."""
