"""The dialer's durable plan: one row per contact, so a restart (even after kill -9) resumes.

A contact is ``waiting`` (due at ``due_at``), ``active`` (an attempt is in flight: ``phase`` is
``reserved`` before the dial and ``dialing`` once it may reach the network) or ``done`` (with its
last outcome or the reasons it can never be called). Every change is committed before the dialer
acts on it: the ``dialing`` mark is durable before the transport is asked to dial.

Rows hold the number's keyed hash (one row per number and campaign) and its sealed copy, and the
contact's columns sealed, which :func:`load` opens for the dialer
(:mod:`voicebot.privacy.number_keys`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from voicebot.campaign.contacts import Contact
from voicebot.store.campaigns import campaign_id
from voicebot.store.engine import Store
from voicebot.store.models import ATTEMPTS, DIALER_QUEUE

_q = DIALER_QUEUE

WAITING = "waiting"
ACTIVE = "active"
DONE = "done"

RESERVED = "reserved"
DIALING = "dialing"


@dataclass
class Entry:
    """One contact's place in the plan (mutable: the dialer updates, then :func:`save`\\ s it)."""

    id: int
    number: str
    line: int
    fields: dict[str, str]
    status: str
    due_at: dt.datetime | None
    attempt_id: int | None = None
    phase: str | None = None
    tries: dict[str, int] = field(default_factory=dict)
    last_outcome: str | None = None
    last_reasons: list[str] = field(default_factory=list)
    note: str | None = None

    def used(self, kind: str) -> int:
        """How many retries (per outcome) or callbacks (``callback``) were used."""
        return int(self.tries.get(kind, 0))


@dataclass(frozen=True)
class AttemptRow:
    """An attempt of the gate's log, as the dialer's recovery and the exports read it."""

    id: int
    number: str
    """E.164 (opened from the sealed copy), or ``erased``."""
    state: str
    outcome: str | None
    talk_seconds: float | None
    reserved_at: dt.datetime
    local_day: dt.date


async def ensure_campaign(store: Store, name: str, purpose: str, now: dt.datetime) -> int:
    """The campaign's id, created on first use (with its purpose, checked on later runs)."""

    def unit(conn: Connection) -> int:
        return campaign_id(conn, name, purpose, now)

    return await store.serialized(unit)


async def seed(
    store: Store, cid: int, contacts: Iterable[Contact], due: dt.datetime, now: dt.datetime
) -> int:
    """Add contacts not yet planned (a rerun adds only new rows); returns how many were added."""
    todo = list(contacts)

    keys = store.numbers

    def unit(conn: Connection) -> int:
        present = set(
            conn.execute(select(_q.c.number_hash).where(_q.c.campaign_id == cid)).scalars()
        )
        rows = [
            {
                "campaign_id": cid,
                **keys.stored(c.number).columns(),
                "line": c.line,
                "fields_sealed": keys.seal_fields(c.variables),
                "status": WAITING,
                "due_at": due,
                "tries": {},
                "last_reasons": [],
                "updated_at": now,
            }
            for c in todo
            if present.isdisjoint(keys.lookup(c.number))
        ]
        if rows:
            conn.execute(insert(_q), rows)
        return len(rows)

    return await store.serialized(unit)


async def load(store: Store, cid: int) -> list[Entry]:
    """Every contact of the campaign, in file order."""
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(select(_q).where(_q.c.campaign_id == cid).order_by(_q.c.line))
        ).all()
    keys = store.numbers
    return [_entry(r, keys.open(r.number_sealed), keys.open_fields(r.fields_sealed)) for r in rows]


async def load_one(store: Store, cid: int, entry_id: int) -> Entry | None:
    """One contact of the campaign (a worker's job), or None if it is not there."""
    query = select(_q).where(_q.c.campaign_id == cid).where(_q.c.id == entry_id)
    async with store.engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    keys = store.numbers
    return _entry(row, keys.open(row.number_sealed), keys.open_fields(row.fields_sealed))


async def save(store: Store, entry: Entry, now: dt.datetime) -> None:
    """Commit ``entry``'s state (durable before return)."""
    values: dict[str, Any] = {
        "status": entry.status,
        "due_at": entry.due_at,
        "attempt_id": entry.attempt_id,
        "phase": entry.phase,
        "tries": dict(entry.tries),
        "last_outcome": entry.last_outcome,
        "last_reasons": list(entry.last_reasons),
        "note": entry.note,
        "updated_at": now,
    }

    def unit(conn: Connection) -> None:
        conn.execute(update(_q).where(_q.c.id == entry.id).values(**values))

    await store.serialized(unit)


async def attempts(store: Store, cid: int, state: str | None = None) -> list[AttemptRow]:
    """The campaign's attempts (optionally only those in ``state``), oldest first."""
    query = select(ATTEMPTS).where(ATTEMPTS.c.campaign_id == cid).order_by(ATTEMPTS.c.id)
    if state is not None:
        query = query.where(ATTEMPTS.c.state == state)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    keys = store.numbers
    return [
        AttemptRow(
            r.id,
            keys.open(r.number_sealed),
            r.state,
            r.outcome,
            r.talk_seconds,
            r.reserved_at,
            r.local_day,
        )
        for r in rows
    ]


async def attempt(store: Store, attempt_id: int) -> AttemptRow | None:
    """One attempt of the gate's log, or None."""
    query = select(ATTEMPTS).where(ATTEMPTS.c.id == attempt_id)
    async with store.engine.connect() as conn:
        r = (await conn.execute(query)).first()
    if r is None:
        return None
    number = store.numbers.open(r.number_sealed)
    return AttemptRow(r.id, number, r.state, r.outcome, r.talk_seconds, r.reserved_at, r.local_day)


def _entry(row: Any, number: str, fields: dict[str, str]) -> Entry:
    return Entry(
        id=row.id,
        number=number,
        line=row.line,
        fields=fields,
        status=row.status,
        due_at=row.due_at,
        attempt_id=row.attempt_id,
        phase=row.phase,
        tries={str(k): int(v) for k, v in (row.tries or {}).items()},
        last_outcome=row.last_outcome,
        last_reasons=[str(r) for r in (row.last_reasons or [])],
        note=row.note,
    )
