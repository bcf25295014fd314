"""Why is (or was) this number blocked? Its whole compliance history, from the store.

Answers the question a support agent or a regulator asks: every attempt and its outcome, every
freeze and why, every do-not-call entry and its source, every refusal review, and whether the
number was erased (then only its keyed hash is left, on the do-not-call list).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from voicebot.compliance.dnc import DncListing, entries
from voicebot.compliance.review import ReviewEntry, list_reviews
from voicebot.compliance.zones import parse_callee
from voicebot.privacy.dnc_hash import ErasureKeyMissing, is_erased_sync
from voicebot.store.engine import Store
from voicebot.store.models import ATTEMPTS, CAMPAIGNS, FREEZES


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt as history shows it."""

    id: int
    campaign: str | None
    purpose: str
    state: str
    reserved_at: dt.datetime
    local_day: dt.date
    outcome: str | None
    talk_seconds: float | None


@dataclass(frozen=True)
class FreezeRecord:
    """One freeze: when, until when, why, and what caused it."""

    since: dt.datetime
    until: dt.datetime
    reason: str
    source: str


@dataclass(frozen=True)
class NumberHistory:
    """Everything the store holds about one number's calls and blocks."""

    number: str
    attempts: list[AttemptRecord] = field(default_factory=list)
    freezes: list[FreezeRecord] = field(default_factory=list)
    dnc: list[DncListing] = field(default_factory=list)
    reviews: list[ReviewEntry] = field(default_factory=list)
    erased: bool | None = False
    """Erased, so on the do-not-call list by its keyed hash only; None: erased numbers exist
    but no master key is loaded to tell whether this is one of them."""


async def explain(store: Store, number: str) -> NumberHistory:
    """The history of ``number`` (raises :class:`InvalidNumber` for a bad one)."""
    e164 = parse_callee(number).e164
    digests = store.numbers.lookup(e164)
    async with store.engine.connect() as conn:
        attempt_rows = (
            await conn.execute(
                select(ATTEMPTS, CAMPAIGNS.c.name)
                .outerjoin(CAMPAIGNS, CAMPAIGNS.c.id == ATTEMPTS.c.campaign_id)
                .where(ATTEMPTS.c.number_hash.in_(digests))
                .order_by(ATTEMPTS.c.id)
            )
        ).all()
        freeze_rows = (
            await conn.execute(
                select(FREEZES).where(FREEZES.c.number_hash.in_(digests)).order_by(FREEZES.c.since)
            )
        ).all()
        try:
            erased: bool | None = await conn.run_sync(is_erased_sync, e164)
        except ErasureKeyMissing:
            erased = None
    reviews = [r for r in await list_reviews(store, None) if r.number == e164]
    return NumberHistory(
        number=e164,
        attempts=[
            AttemptRecord(
                r.id,
                r.name,
                r.purpose,
                r.state,
                r.reserved_at,
                r.local_day,
                r.outcome,
                r.talk_seconds,
            )
            for r in attempt_rows
        ],
        freezes=[FreezeRecord(r.since, r.until, r.reason, r.source) for r in freeze_rows],
        dnc=await entries(store, e164),
        reviews=reviews,
        erased=erased,
    )
