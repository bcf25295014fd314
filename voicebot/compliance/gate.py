"""The pre-dial gate: may this number be called now, and if so, reserve the call atomically.

A reservation is an attempt row in state ``reserved``, written in the same transaction as the
check that allowed it, under a lock that serializes everything done for the number (SQLite:
the file's write lock taken by ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock per number).
So concurrent dialers, tasks or processes, can never together exceed a cap. The dialer then
either :meth:`Gate.release`\\ s the reservation (the dial never reached the network) or reports
how the call ended with :meth:`Gate.record_outcome`.

Every decision is written to the audit table with the masked number and the policy version.
The store never sees the number itself: the gate looks it up by its keyed hashes and reserves
with its hash and sealed copy (:mod:`voicebot.privacy.number_keys`).
On SQLite, decisions of concurrent tasks are group-committed (one fsync per batch, see
:mod:`voicebot.store.batch`); a decision is returned only once it is durable.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Connection

from voicebot.compliance import rules
from voicebot.compliance.calendars import HolidayCalendar
from voicebot.compliance.decision import Decision, Reason
from voicebot.compliance.policy import Policy
from voicebot.compliance.queries import GateQueries, Lookup, queries_for
from voicebot.compliance.schedule import WEEK_DAYS, Evaluation, History, evaluate
from voicebot.compliance.zones import Callee, parse_callee
from voicebot.outcomes import Outcome
from voicebot.privacy import mask_number
from voicebot.privacy.audit import audit_row
from voicebot.privacy.dnc_hash import is_erased_sync
from voicebot.privacy.number_keys import NumberKeyMissing
from voicebot.privacy.numbers import InvalidNumber
from voicebot.purpose import Purpose
from voicebot.store.campaigns import campaign_id, find_campaign_id
from voicebot.store.engine import Store, lock_number_sync

COUNTING_STATES = ("reserved", "completed")
"""Attempt states that count toward caps and gaps (a released one never reached the network)."""


class Gate:
    """Decides before every dial; one per process, shared by its tasks.

    A task cancelled while its decision is being committed may leave a reservation it never
    learns about; it keeps counting toward the caps (the safe side) until the dialer, which
    holds the campaign's lease, releases it as stale when it stops or next starts.

    Args:
        store: the open store.
        policy: the effective policy (its version is audited with each decision).
    """

    def __init__(self, store: Store, policy: Policy) -> None:
        self.store = store
        self.policy = policy
        self.calendar = HolidayCalendar(policy.calendars)
        self._campaign_ids: dict[tuple[str, Purpose], int] = {}
        self._queries: GateQueries = queries_for(store.engine.dialect.name)

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

        def unit(conn: Connection) -> tuple[Evaluation, int | None, int | None]:
            return self._decide_in(conn, callee, campaign, purpose, now, reserve)

        verdict, attempt_id, cid = await self.store.serialized(unit)
        if campaign is not None and cid is not None:
            # Cached only once committed: a rolled-back insert must not leave a dangling id.
            self._campaign_ids[(campaign, purpose)] = cid
        return Decision(
            not verdict.reasons, verdict.reasons, verdict.not_before, attempt_id, callee.masked,
            version, verdict.detail,
        )  # fmt: skip

    def _decide_in(
        self,
        conn: Connection,
        callee: Callee,
        campaign: str | None,
        purpose: Purpose,
        now: dt.datetime,
        reserve: bool,
    ) -> tuple[Evaluation, int | None, int | None]:
        """One decision inside the caller's write transaction (the atomic unit)."""
        lock_number_sync(conn, callee.e164)
        numbers = self.store.numbers
        digests = numbers.lookup(callee.e164)
        if reserve:
            cid = self._campaign_id(conn, campaign, purpose, now)
        else:  # a what-if creates nothing, not even the campaign row
            cid = find_campaign_id(conn, campaign) if campaign is not None else None
        history = self._history(conn, callee, digests, cid, purpose, now)
        verdict = evaluate(callee, self.policy.for_purpose(purpose), self.calendar, history, now)
        allowed = not verdict.reasons
        attempt_id = None
        if allowed and reserve:
            attempt_id = self._queries.reserve(
                conn,
                {
                    "number_hash": digests[0],
                    "number_sealed": numbers.seal(callee.e164),
                    "campaign_id": cid,
                    "purpose": purpose.value,
                    "state": "reserved",
                    "reserved_at": now,
                    "local_day": callee.local_day(now),
                    "policy_version": self.policy.version_tag,
                },
            )
        audit = audit_row(
            at=now,
            kind="reserve" if reserve else "check",
            number_masked=callee.masked,
            policy_version=self.policy.version_tag,
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
        self._queries.audit(conn, audit)
        return verdict, attempt_id, cid

    def _campaign_id(
        self, conn: Connection, name: str | None, purpose: Purpose, now: dt.datetime
    ) -> int | None:
        if name is None:
            return None
        cached = self._campaign_ids.get((name, purpose))
        return cached if cached is not None else campaign_id(conn, name, purpose.value, now)

    def _history(
        self,
        conn: Connection,
        callee: Callee,
        digests: tuple[str, ...],
        cid: int | None,
        purpose: Purpose,
        now: dt.datetime,
    ) -> History:
        if callee.home_zone is None:
            return History()
        today = callee.local_day(now)
        first = today - dt.timedelta(days=WEEK_DAYS - 1)
        by_purpose = self.policy.for_purpose(purpose).caps.scope == "purpose"
        rows = self._queries.recent(
            conn, digests, first, today, purpose.value if by_purpose else None
        )
        dnc, frozen_until, foreign = self._queries.blocks(
            conn, Lookup(digests, self.store.numbers.key_ids), cid, now
        )
        if foreign:  # another engine stores numbers under a key this one cannot match
            raise NumberKeyMissing(
                "the store holds numbers under a master key this process does not have (an "
                "engine started after `voicebot keys rotate`?): the gate refuses to decide; "
                "restart with the current key file"
            )
        past = [at for _, at in rows if at <= now]
        return History(
            attempt_days=tuple(day for day, _ in rows),
            last_attempt=max(past) if past else None,
            frozen_until=frozen_until,
            dnc=bool(dnc) or is_erased_sync(conn, callee.e164),
        )
