"""Outcome rules: what the engine learns from how each call ended.

- ``opted_out`` -> a do-not-call entry, committed (``synchronous=FULL`` on SQLite) before return;
- ``rejected``, or an answered call shorter than the policy's threshold, counts toward the freeze
  rule (default: 3 in one local day -> frozen 30 days); unanswered calls (no answer, busy,
  failed) do not: nobody was disturbed;
- ``refused`` -> the review queue (a person confirms, then the number is frozen).

Each change is made under the number's lock, in one transaction with its audit event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from voicebot.compliance.audit import write_audit
from voicebot.compliance.policy import Policy
from voicebot.outcomes import Outcome
from voicebot.privacy import mask_number
from voicebot.store.engine import Store
from voicebot.store.models import ATTEMPTS, DNC_ENTRIES, FREEZES, REVIEW_QUEUE

_attempts = ATTEMPTS
_dnc = DNC_ENTRIES
_freezes = FREEZES
_reviews = REVIEW_QUEUE


@dataclass(frozen=True)
class _Pending:
    number: str
    campaign_id: int | None
    local_day: dt.date


class AttemptStateError(ValueError):
    """The attempt does not exist or is not a pending reservation."""


@dataclass(frozen=True)
class OutcomeEffects:
    """What recording an outcome changed, for the caller's log and tests."""

    dnc_added: bool = False
    frozen_until: dt.datetime | None = None
    review_id: int | None = None


async def release(store: Store, policy: Policy, attempt_id: int, now: dt.datetime) -> None:
    """Mark a reservation ``released``: the dial never reached the network, so it stops counting.

    Raises:
        AttemptStateError: unknown attempt, or one already released or completed.
    """
    async with store.write() as conn:
        attempt = await _pending_attempt(store, conn, attempt_id)
        await conn.execute(
            update(_attempts)
            .where(_attempts.c.id == attempt_id)
            .values(state="released", finished_at=now)
        )
        await write_audit(
            conn,
            at=now,
            kind="release",
            number_masked=mask_number(attempt.number),
            policy_version=policy.version_tag,
            campaign_id=attempt.campaign_id,
            attempt_id=attempt_id,
        )


async def record_outcome(
    store: Store,
    policy: Policy,
    attempt_id: int,
    outcome: Outcome,
    talk_seconds: float,
    now: dt.datetime,
) -> OutcomeEffects:
    """Complete a reservation with its outcome and apply the outcome rules, durably.

    Raises:
        AttemptStateError: unknown attempt, or one already released or completed.
        ValueError: negative ``talk_seconds``.
    """
    outcome = Outcome(outcome)
    if talk_seconds < 0:
        raise ValueError(f"talk_seconds must be >= 0, got {talk_seconds}")
    async with store.write() as conn:
        attempt = await _pending_attempt(store, conn, attempt_id)
        number = attempt.number
        await conn.execute(
            update(_attempts)
            .where(_attempts.c.id == attempt_id)
            .values(
                state="completed", finished_at=now, outcome=outcome.value, talk_seconds=talk_seconds
            )
        )
        dnc_added = False
        review_id = None
        if outcome is Outcome.OPTED_OUT:
            scope_campaign = (
                attempt.campaign_id if policy.do_not_call.opt_out_scope == "campaign" else None
            )
            await add_dnc(conn, number, scope_campaign, f"opt-out on attempt {attempt_id}", now)
            dnc_added = True
        if outcome is Outcome.REFUSED and policy.refusal_review.enabled:
            created = await conn.execute(
                insert(_reviews)
                .values(number=number, attempt_id=attempt_id, status="pending", created_at=now)
                .returning(_reviews.c.id)
            )
            review_id = int(created.scalar_one())
        frozen_until = await _apply_freeze_rule(conn, policy, number, attempt.local_day, now)
        await write_audit(
            conn,
            at=now,
            kind="outcome",
            number_masked=mask_number(number),
            policy_version=policy.version_tag,
            campaign_id=attempt.campaign_id,
            attempt_id=attempt_id,
            detail={
                "outcome": outcome.value,
                "talk_seconds": talk_seconds,
                "dnc_added": dnc_added,
                "frozen_until": frozen_until.isoformat() if frozen_until else None,
                "review_id": review_id,
            },
        )
    return OutcomeEffects(dnc_added, frozen_until, review_id)


async def add_dnc(
    conn: AsyncConnection, number: str, campaign_id: int | None, source: str, now: dt.datetime
) -> bool:
    """Insert a do-not-call entry unless the same scope already has one; True if inserted."""
    scope = (
        _dnc.c.campaign_id.is_(None) if campaign_id is None else _dnc.c.campaign_id == campaign_id
    )
    present = await conn.execute(select(_dnc.c.id).where(_dnc.c.number == number, scope).limit(1))
    if present.first() is not None:
        return False
    await conn.execute(
        insert(_dnc).values(number=number, campaign_id=campaign_id, source=source, created_at=now)
    )
    return True


async def freeze_number(
    conn: AsyncConnection, number: str, now: dt.datetime, days: int, reason: str, source: str
) -> dt.datetime:
    """Freeze ``number`` from ``now`` for ``days`` days; returns the end of the freeze."""
    until = now + dt.timedelta(days=days)
    await conn.execute(
        insert(_freezes).values(number=number, since=now, until=until, reason=reason, source=source)
    )
    return until


async def _apply_freeze_rule(
    conn: AsyncConnection, policy: Policy, number: str, day: dt.date, now: dt.datetime
) -> dt.datetime | None:
    rule = policy.freeze
    unanswered = [o.value for o in Outcome if not o.answered and o is not Outcome.REJECTED]
    bad = or_(
        _attempts.c.outcome == Outcome.REJECTED.value,
        and_(_attempts.c.outcome.not_in(unanswered), _attempts.c.talk_seconds < rule.short_seconds),
    )
    count = (
        await conn.execute(
            select(func.count()).where(
                _attempts.c.number == number,
                _attempts.c.local_day == day,
                _attempts.c.state == "completed",
                bad,
            )
        )
    ).scalar_one()
    if count < rule.calls:
        return None
    active = await conn.execute(
        select(_freezes.c.id).where(
            _freezes.c.number == number, _freezes.c.since <= now, _freezes.c.until > now
        )
    )
    if active.first() is not None:
        return None
    return await freeze_number(
        conn,
        number,
        now,
        rule.days,
        "short_calls",
        f"{count} rejected or short (<{rule.short_seconds:g}s) calls on {day}",
    )


async def _pending_attempt(store: Store, conn: AsyncConnection, attempt_id: int) -> _Pending:
    head = (
        await conn.execute(select(_attempts.c.number).where(_attempts.c.id == attempt_id))
    ).first()
    if head is None:
        raise AttemptStateError(f"no attempt {attempt_id}")
    await store.lock_number(conn, head.number)
    query = select(
        _attempts.c.number, _attempts.c.campaign_id, _attempts.c.local_day, _attempts.c.state
    ).where(_attempts.c.id == attempt_id)
    if not store.is_sqlite:
        query = query.with_for_update()
    row = (await conn.execute(query)).one()
    if row.state != "reserved":
        raise AttemptStateError(f"attempt {attempt_id} is {row.state}, not reserved")
    return _Pending(str(row.number), row.campaign_id, row.local_day)
