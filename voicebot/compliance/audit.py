"""Append one event to the audit table: every decision, reservation, outcome and DNC change.

Rows carry the masked number only, the reasons as codes and the policy version; the table
refuses updates and deletes (database triggers), so what was decided stays as it was decided.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from voicebot.store.models import AUDIT_EVENTS

_audit = AUDIT_EVENTS


async def write_audit(
    conn: AsyncConnection,
    *,
    at: dt.datetime,
    kind: str,
    number_masked: str,
    policy_version: str,
    campaign_id: int | None = None,
    attempt_id: int | None = None,
    allowed: bool | None = None,
    reasons: Iterable[str] = (),
    detail: dict[str, Any] | None = None,
) -> None:
    """Insert one audit event inside the caller's transaction (it commits with the change)."""
    await conn.execute(
        insert(_audit).values(
            at=at,
            kind=kind,
            number_masked=number_masked,
            policy_version=policy_version,
            campaign_id=campaign_id,
            attempt_id=attempt_id,
            allowed=allowed,
            reasons=[str(r) for r in reasons],
            detail=detail or {},
        )
    )
