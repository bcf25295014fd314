"""The pre-dial gate: may this number be called now, and if so, reserve the call atomically.

A reservation is an attempt row in state ``reserved``, written in the same transaction as the
check that allowed it, under a lock that serializes everything done for the number (SQLite:
the file's write lock taken by ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock per number).
So concurrent dialers, tasks or processes, can never together exceed a cap. The dialer then
either :meth:`Gate.release`\\ s the reservation (the dial never reached the network) or reports
how the call ended with :meth:`Gate.record_outcome`.

Every decision is written to the audit table with the masked number and the policy version.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, exists, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from voicebot.compliance import rules
from voicebot.compliance.audit import write_audit
from voicebot.compliance.calendars import HolidayCalendar
from voicebot.compliance.decision import Decision, Reason
from voicebot.compliance.policy import Policy
from voicebot.compliance.schedule import WEEK_DAYS, History, evaluate
from voicebot.compliance.zones import Callee, InvalidNumber, parse_callee
from voicebot.flow.model import Purpose
from voicebot.outcomes import Outcome
from voicebot.privacy import mask_number
from voicebot.store.campaigns import campaign_id as resolve_campaign
from voicebot.store.engine import Store
from voicebot.store.models import ATTEMPTS, DNC_ENTRIES, FREEZES

COUNTING_STATES = ("reserved", "completed")
"""Attempt states that count toward caps and gaps (a released one never reached the network)."""

_attempts = ATTEMPTS
_dnc = DNC_ENTRIES
_freezes = FREEZES


class Gate:
    """Decides before every dial; one per process, shared by its tasks.

    Args:
        store: the open store.
        policy: the effective policy (its version is audited with each decision).
    """

    def __init__(self, store: Store, policy: Policy) -> None:
        self.store = store
        self.policy = policy
        self.calendar = HolidayCalendar(policy.calendars)
        self._campaign_ids: dict[str, int] = {}

    async def check_and_reserve(
        self, number: str, campaign: str, purpose: Purpose, now: dt.datetime
    ) -> Decision:
        """Decide for ``number`` at ``now`` and, if allowed, reserve the call.

        Returns:
            The decision; when allowed, ``attempt_id`` names the reservation to release or to
            complete with :meth:`record_outcome`. An invalid number is denied with
            ``invalid_number`` and nothing is written.
        """
        return await self._decide(number, campaign, purpose, now, reserve=True)

    async def check(
        self, number: str, purpose: Purpose, now: dt.datetime, campaign: str | None = None
    ) -> Decision:
        """What-if: decide without reserving (caps are not consumed); the decision is audited."""
        return await self._decide(number, campaign, purpose, now, reserve=False)

    async def release(self, attempt_id: int, now: dt.datetime) -> None:
        """Give back a reservation whose dial never reached the network (it stops counting)."""
        await rules.release(self.store, self.policy, attempt_id, now)

    async def record_outcome(
        self, attempt_id: int, outcome: Outcome, talk_seconds: float, now: dt.datetime
    ) -> rules.OutcomeEffects:
        """Complete a reservation with how the call ended; see :func:`rules.record_outcome`."""
        return await rules.record_outcome(
            self.store, self.policy, attempt_id, outcome, talk_seconds, now
        )

    async def _decide(
        self,
        number: str,
        campaign: str | None,
        purpose: Purpose,
        now: dt.datetime,
        *,
        reserve: bool,
    ) -> Decision:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be an aware datetime")
        purpose = Purpose(purpose)
        version = self.policy.version_tag
        try:
            callee = parse_callee(number)
        except InvalidNumber as exc:
            return Decision(
                False, (Reason.INVALID_NUMBER,), None, None, mask_number(number), version,
                (str(exc),),
            )  # fmt: skip
        rules_for = self.policy.for_purpose(purpose)
        async with self.store.write() as conn:
            await self.store.lock_number(conn, callee.e164)
            cid = await self._campaign_id(conn, campaign, purpose, now)
            history = await self._history(conn, callee, cid, purpose, now)
            verdict = evaluate(callee, rules_for, self.calendar, history, now)
            allowed = not verdict.reasons
            attempt_id = None
            if allowed and reserve:
                attempt_id = await self._reserve(conn, callee, cid, purpose, now, version)
            await write_audit(
                conn,
                at=now,
                kind="reserve" if reserve else "check",
                number_masked=callee.masked,
                policy_version=version,
                campaign_id=cid,
                attempt_id=attempt_id,
                allowed=allowed,
                reasons=verdict.reasons,
                detail={
                    "purpose": purpose.value,
                    "not_before": verdict.not_before.isoformat() if verdict.not_before else None,
                    "notes": list(verdict.detail),
                },
            )
        return Decision(
            allowed, verdict.reasons, verdict.not_before, attempt_id, callee.masked, version,
            verdict.detail,
        )  # fmt: skip

    async def _campaign_id(
        self, conn: AsyncConnection, name: str | None, purpose: Purpose, now: dt.datetime
    ) -> int | None:
        if name is None:
            return None
        cached = self._campaign_ids.get(name)
        if cached is None:
            cached = await resolve_campaign(conn, name, purpose.value, now)
            self._campaign_ids[name] = cached
        return cached

    async def _history(
        self,
        conn: AsyncConnection,
        callee: Callee,
        cid: int | None,
        purpose: Purpose,
        now: dt.datetime,
    ) -> History:
        if callee.home_zone is None:
            return History()
        today = callee.local_day(now)
        first = today - dt.timedelta(days=WEEK_DAYS - 1)
        query = select(_attempts.c.local_day, _attempts.c.reserved_at).where(
            _attempts.c.number == callee.e164,
            _attempts.c.state.in_(COUNTING_STATES),
            _attempts.c.local_day >= first,
            _attempts.c.local_day <= today,
        )
        if self.policy.for_purpose(purpose).caps.scope == "purpose":
            query = query.where(_attempts.c.purpose == purpose.value)
        rows = (await conn.execute(query)).all()
        dnc_scope: ColumnElement[bool] = _dnc.c.campaign_id.is_(None)
        if cid is not None:
            dnc_scope = or_(dnc_scope, _dnc.c.campaign_id == cid)
        flags = (
            await conn.execute(
                select(
                    exists().where(_dnc.c.number == callee.e164, dnc_scope),
                    select(func.max(_freezes.c.until))
                    .where(
                        _freezes.c.number == callee.e164,
                        _freezes.c.since <= now,
                        _freezes.c.until > now,
                    )
                    .scalar_subquery(),
                )
            )
        ).one()
        past = [at for _, at in rows if at <= now]
        return History(
            attempt_days=tuple(day for day, _ in rows),
            last_attempt=max(past) if past else None,
            frozen_until=flags[1],
            dnc=bool(flags[0]),
        )

    async def _reserve(
        self,
        conn: AsyncConnection,
        callee: Callee,
        cid: int | None,
        purpose: Purpose,
        now: dt.datetime,
        version: str,
    ) -> int:
        result = await conn.execute(
            insert(_attempts)
            .values(
                number=callee.e164,
                campaign_id=cid,
                purpose=purpose.value,
                state="reserved",
                reserved_at=now,
                local_day=callee.local_day(now),
                policy_version=version,
            )
            .returning(_attempts.c.id)
        )
        return int(result.scalar_one())
