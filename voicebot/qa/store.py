"""Keep each call's QA checklist in the store, and read them back for reports.

The dialer calls :func:`record_qa` once per answered-or-not attempt, right after
:func:`~voicebot.qa.checks.check_call`; ``voicebot qa report`` and the campaign report read
them with :func:`load_qa`. One row per attempt: recording twice replaces nothing and says so.

Wiring, in the dialer::

    check_approved(loaded, store)                  # before the campaign (flow.approval)
    timing = await flow_disclosure_timing(loaded, synthesizer)        # once per campaign
    window = CallWindow.for_call(policy, loaded.flow.purpose, number)  # per contact
    report = await session.run()                   # per call (attempt_id from the gate)
    result = check_call(report.log, loaded.flow, timing, window)
    await record_qa(store, decision.attempt_id, result)
    CallResult(..., qa_failures=result.failures)   # the campaign report flags them
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select

from voicebot.qa.checks import QaCheck, QaResult
from voicebot.store import Store
from voicebot.store.models import ATTEMPTS, CALL_QA, CAMPAIGNS


class QaAlreadyRecorded(ValueError):
    """The attempt already has a QA result (results are facts: never overwritten)."""


@dataclass(frozen=True)
class StoredQa:
    """One call's stored checklist, with where it belongs."""

    attempt_id: int
    campaign: str | None
    number_masked: str
    checked_at: dt.datetime
    result: QaResult

    @property
    def passed(self) -> bool:
        """No check failed."""
        return self.result.passed


async def record_qa(
    store: Store,
    attempt_id: int,
    result: QaResult,
    *,
    at: dt.datetime | None = None,
) -> None:
    """Store the checklist of attempt ``attempt_id`` (the gate's reservation id).

    The campaign is taken from the attempt. Raises :class:`QaAlreadyRecorded` if the attempt
    already has one, and :class:`LookupError` if there is no such attempt.
    """
    when = at or dt.datetime.now(dt.UTC)
    async with store.write() as conn:
        row = (
            await conn.execute(select(ATTEMPTS.c.campaign_id).where(ATTEMPTS.c.id == attempt_id))
        ).first()
        if row is None:
            raise LookupError(f"no attempt {attempt_id}")
        seen = await conn.execute(select(CALL_QA.c.id).where(CALL_QA.c.attempt_id == attempt_id))
        if seen.first() is not None:
            raise QaAlreadyRecorded(f"attempt {attempt_id} already has a QA result")
        await conn.execute(
            insert(CALL_QA).values(
                attempt_id=attempt_id,
                campaign_id=row.campaign_id,
                checked_at=when,
                passed=result.passed,
                failures=list(result.failures),
                checks=result.as_list(),
            )
        )


async def load_qa(
    store: Store,
    *,
    campaign: str | None = None,
    failed_only: bool = False,
    attempt: int | None = None,
) -> list[StoredQa]:
    """Stored checklists, oldest first (only ``attempt``'s if given); numbers come back masked.

    Raises:
        LookupError: ``campaign`` names no campaign.
    """
    query = (
        select(CALL_QA, ATTEMPTS.c.number_sealed, CAMPAIGNS.c.name.label("campaign_name"))
        .join(ATTEMPTS, ATTEMPTS.c.id == CALL_QA.c.attempt_id)
        .outerjoin(CAMPAIGNS, CAMPAIGNS.c.id == CALL_QA.c.campaign_id)
        .order_by(CALL_QA.c.checked_at, CALL_QA.c.id)
    )
    async with store.engine.connect() as conn:
        if campaign is not None:
            found = await conn.execute(select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.name == campaign))
            campaign_id = found.scalar()
            if campaign_id is None:
                raise LookupError(f"no campaign named {campaign!r}")
            query = query.where(CALL_QA.c.campaign_id == campaign_id)
        if failed_only:
            query = query.where(CALL_QA.c.passed.is_(False))
        if attempt is not None:
            query = query.where(CALL_QA.c.attempt_id == attempt)
        rows = (await conn.execute(query)).all()
    return [
        StoredQa(
            attempt_id=r.attempt_id,
            campaign=r.campaign_name,
            number_masked=store.numbers.masked(r.number_sealed),
            checked_at=r.checked_at,
            result=QaResult(tuple(QaCheck.from_dict(c) for c in r.checks)),
        )
        for r in rows
    ]
