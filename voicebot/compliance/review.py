"""The refusal review queue: a person confirms a heard refusal (-> frozen) or dismisses it.

Speech recognition can mishear "not now" as "not interested"; a person decides before a refusal
costs a number its calls. Confirmation freezes the number for the policy's ``freeze_days``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from voicebot.compliance.policy import Policy
from voicebot.compliance.rules import freeze_number
from voicebot.privacy import mask_number
from voicebot.privacy.audit import write_audit
from voicebot.store.engine import Store
from voicebot.store.models import ATTEMPTS, REVIEW_QUEUE

STATUSES = ("pending", "confirmed", "dismissed")


class ReviewError(ValueError):
    """No such review item, or it was already decided."""


@dataclass(frozen=True)
class ReviewEntry:
    """One review item as a reviewer sees it."""

    id: int
    number: str
    attempt_id: int | None
    status: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decided_by: str | None
    note: str | None
    outcome: str | None
    talk_seconds: float | None


async def list_reviews(store: Store, status: str | None = "pending") -> list[ReviewEntry]:
    """Review items, oldest first; ``status`` None lists all."""
    if status is not None and status not in STATUSES:
        raise ReviewError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    query = (
        select(
            REVIEW_QUEUE,
            ATTEMPTS.c.outcome,
            ATTEMPTS.c.talk_seconds,
        )
        .outerjoin(ATTEMPTS, ATTEMPTS.c.id == REVIEW_QUEUE.c.attempt_id)
        .order_by(REVIEW_QUEUE.c.id)
    )
    if status is not None:
        query = query.where(REVIEW_QUEUE.c.status == status)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        ReviewEntry(
            r.id,
            store.numbers.open(r.number_sealed),
            r.attempt_id,
            r.status,
            r.created_at,
            r.decided_at,
            r.decided_by,
            r.note,
            r.outcome,
            r.talk_seconds,
        )
        for r in rows
    ]


async def confirm(
    store: Store, policy: Policy, item_id: int, now: dt.datetime, by: str, note: str | None = None
) -> dt.datetime:
    """Confirm a refusal: the number is frozen for ``refusal_review.freeze_days``.

    Returns:
        The end of the freeze.
    """
    async with store.write() as conn:
        number = await _decide(store, conn, item_id, "confirmed", now, by, note)
        until = await conn.run_sync(
            freeze_number,
            store.numbers,
            number,
            now,
            policy.refusal_review.freeze_days,
            "refusal",
            f"review {item_id} confirmed by {by}",
        )
        await write_audit(
            conn,
            at=now,
            kind="review_confirm",
            number_masked=mask_number(number),
            policy_version=policy.version_tag,
            detail={"review_id": item_id, "by": by, "frozen_until": until.isoformat()},
        )
    return until


async def dismiss(
    store: Store, policy: Policy, item_id: int, now: dt.datetime, by: str, note: str | None = None
) -> None:
    """Dismiss a refusal (misheard, or not a refusal): nothing else changes."""
    async with store.write() as conn:
        number = await _decide(store, conn, item_id, "dismissed", now, by, note)
        await write_audit(
            conn,
            at=now,
            kind="review_dismiss",
            number_masked=mask_number(number),
            policy_version=policy.version_tag,
            detail={"review_id": item_id, "by": by},
        )


async def _decide(
    store: Store,
    conn: AsyncConnection,
    item_id: int,
    status: str,
    now: dt.datetime,
    by: str,
    note: str | None,
) -> str:
    row = (
        await conn.execute(
            select(REVIEW_QUEUE.c.number_sealed, REVIEW_QUEUE.c.status).where(
                REVIEW_QUEUE.c.id == item_id
            )
        )
    ).first()
    if row is None:
        raise ReviewError(f"no review item {item_id}")
    number = store.numbers.open(row.number_sealed)
    await store.lock_number(conn, number)
    done = await conn.execute(
        update(REVIEW_QUEUE)
        .where(REVIEW_QUEUE.c.id == item_id, REVIEW_QUEUE.c.status == "pending")
        .values(status=status, decided_at=now, decided_by=by, note=note)
    )
    if done.rowcount != 1:
        raise ReviewError(f"review item {item_id} is already {row.status}")
    return number
