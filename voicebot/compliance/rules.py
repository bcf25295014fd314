"""Outcome rules: what the engine learns from how each call ended.

- ``opted_out`` -> a do-not-call entry, committed (``synchronous=FULL`` on SQLite) before return;
- ``rejected``, or an answered call shorter than the policy's threshold, counts toward the freeze
  rule (default: 3 in one local day -> frozen 30 days); unanswered calls (no answer, busy,
  failed) do not: nobody was disturbed;
- ``refused`` -> the review queue (a person confirms, then the number is frozen).

Each change is made under the number's lock, in one transaction with its audit event. Rows
refer to the number by its keyed hash and sealed copy (:mod:`voicebot.privacy.number_keys`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from voicebot.compliance.policy import Policy
from voicebot.outcomes import Outcome
from voicebot.privacy import mask_number
from voicebot.privacy.audit import write_audit_sync
from voicebot.privacy.number_keys import ERASED, NumberKeys
from voicebot.store.engine import Store, lock_number_sync
from voicebot.store.models import ATTEMPTS, DNC_ENTRIES, FREEZES, REVIEW_QUEUE

_attempts = ATTEMPTS
_dnc = DNC_ENTRIES
_freezes = FREEZES
_reviews = REVIEW_QUEUE


@dataclass(frozen=True)
class _Pending:
    number: str
    """E.164, or ``erased`` when the number was erased while the call was under way."""
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

    def unit(conn: Connection) -> None:
        attempt = _pending_attempt(conn, store.numbers, attempt_id)
        conn.execute(
            update(_attempts)
            .where(_attempts.c.id == attempt_id)
            .values(state="released", finished_at=now)
        )
        write_audit_sync(
            conn,
            at=now,
            kind="release",
            number_masked=_masked(attempt.number),
            policy_version=policy.version_tag,
            campaign_id=attempt.campaign_id,
            attempt_id=attempt_id,
        )

    await store.serialized(unit)


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

    def unit(conn: Connection) -> OutcomeEffects:
        return _record(conn, store.numbers, policy, attempt_id, Outcome(outcome), talk_seconds, now)

    return await store.serialized(unit)


def _record(
    conn: Connection,
    keys: NumberKeys,
    policy: Policy,
    attempt_id: int,
    outcome: Outcome,
    talk_seconds: float,
    now: dt.datetime,
) -> OutcomeEffects:
    attempt = _pending_attempt(conn, keys, attempt_id)
    number = attempt.number
    conn.execute(
        update(_attempts)
        .where(_attempts.c.id == attempt_id)
        .values(
            state="completed", finished_at=now, outcome=outcome.value, talk_seconds=talk_seconds
        )
    )
    dnc_added = False
    review_id = None
    frozen_until = None
    erased = number == ERASED  # erased during the call: nothing may refer to it again
    if outcome is Outcome.OPTED_OUT and not erased:
        scope_campaign = (
            attempt.campaign_id if policy.do_not_call.opt_out_scope == "campaign" else None
        )
        add_dnc(conn, keys, number, scope_campaign, f"opt-out on attempt {attempt_id}", now)
        dnc_added = True
    if outcome is Outcome.REFUSED and policy.refusal_review.enabled and not erased:
        review_id = queue_review(conn, keys, number, attempt_id, now)
    if not erased:
        frozen_until = _apply_freeze_rule(conn, keys, policy, number, attempt.local_day, now)
    write_audit_sync(
        conn,
        at=now,
        kind="outcome",
        number_masked=_masked(number),
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


def queue_review(
    conn: Connection, keys: NumberKeys, number: str, attempt_id: int, now: dt.datetime
) -> int:
    """Put a refusal in the review queue (a person confirms it, then the number is frozen)."""
    created = conn.execute(
        insert(_reviews)
        .values(
            **keys.stored(number).columns(),
            attempt_id=attempt_id,
            status="pending",
            created_at=now,
        )
        .returning(_reviews.c.id)
    )
    return int(created.scalar_one())


def add_dnc(
    conn: Connection,
    keys: NumberKeys,
    number: str,
    campaign_id: int | None,
    source: str,
    now: dt.datetime,
) -> bool:
    """Insert a do-not-call entry unless the same scope already has one; True if inserted."""
    scope = (
        _dnc.c.campaign_id.is_(None) if campaign_id is None else _dnc.c.campaign_id == campaign_id
    )
    mine = _dnc.c.number_hash.in_(keys.lookup(number))
    present = conn.execute(select(_dnc.c.id).where(mine, scope).limit(1))
    if present.first() is not None:
        return False
    conn.execute(
        insert(_dnc).values(
            **keys.stored(number).columns(), campaign_id=campaign_id, source=source, created_at=now
        )
    )
    return True


def freeze_number(
    conn: Connection,
    keys: NumberKeys,
    number: str,
    now: dt.datetime,
    days: int,
    reason: str,
    source: str,
) -> dt.datetime:
    """Freeze ``number`` from ``now`` for ``days`` days; returns the end of the freeze."""
    until = now + dt.timedelta(days=days)
    conn.execute(
        insert(_freezes).values(
            **keys.stored(number).columns(), since=now, until=until, reason=reason, source=source
        )
    )
    return until


def _masked(number: str) -> str:
    return number if number == ERASED else mask_number(number)


def _apply_freeze_rule(
    conn: Connection,
    keys: NumberKeys,
    policy: Policy,
    number: str,
    day: dt.date,
    now: dt.datetime,
) -> dt.datetime | None:
    rule = policy.freeze
    unanswered = [o.value for o in Outcome if not o.answered and o is not Outcome.REJECTED]
    bad = or_(
        _attempts.c.outcome == Outcome.REJECTED.value,
        and_(_attempts.c.outcome.not_in(unanswered), _attempts.c.talk_seconds < rule.short_seconds),
    )
    digests = keys.lookup(number)
    count = (
        conn.execute(
            select(func.count()).where(
                _attempts.c.number_hash.in_(digests),
                _attempts.c.local_day == day,
                _attempts.c.state == "completed",
                bad,
            )
        )
    ).scalar_one()
    if count < rule.calls:
        return None
    active = conn.execute(
        select(_freezes.c.id).where(
            _freezes.c.number_hash.in_(digests), _freezes.c.since <= now, _freezes.c.until > now
        )
    )
    if active.first() is not None:
        return None
    return freeze_number(
        conn,
        keys,
        number,
        now,
        rule.days,
        "short_calls",
        f"{count} rejected or short (<{rule.short_seconds:g}s) calls on {day}",
    )


def _pending_attempt(conn: Connection, keys: NumberKeys, attempt_id: int) -> _Pending:
    head = conn.execute(
        select(_attempts.c.number_sealed).where(_attempts.c.id == attempt_id)
    ).first()
    if head is None:
        raise AttemptStateError(f"no attempt {attempt_id}")
    lock_number_sync(conn, keys.open(head.number_sealed))
    query = select(
        _attempts.c.number_sealed, _attempts.c.campaign_id, _attempts.c.local_day, _attempts.c.state
    ).where(_attempts.c.id == attempt_id)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = conn.execute(query).one()
    if row.state != "reserved":
        raise AttemptStateError(f"attempt {attempt_id} is {row.state}, not reserved")
    # Read again under the lock: an erasure may have anonymised the attempt meanwhile.
    return _Pending(keys.open(row.number_sealed), row.campaign_id, row.local_day)
