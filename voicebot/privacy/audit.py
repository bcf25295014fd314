"""Append one event to the audit table: every decision, reservation, outcome and DNC change.

Rows carry the masked number only, the reasons as codes and the policy version; the table
refuses updates and deletes (database triggers), so what was decided stays as it was decided.
The event is written in the caller's transaction, so it commits (or not) with the change, and is
appended to the hash chain (:mod:`voicebot.privacy.audit_chain`) under that transaction's write
lock, so edits, deletions and reordering are evident to ``voicebot audit verify``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from voicebot.privacy.audit_chain import append_sync


def audit_row(
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
) -> dict[str, Any]:
    """The column values of one audit event."""
    return {
        "at": at,
        "kind": kind,
        "number_masked": number_masked,
        "policy_version": policy_version,
        "campaign_id": campaign_id,
        "attempt_id": attempt_id,
        "allowed": allowed,
        "reasons": [str(r) for r in reasons],
        "detail": detail or {},
    }


async def write_audit(conn: AsyncConnection, **event: Any) -> None:
    """Append one audit event (fields as :func:`audit_row`) on an async connection."""
    row = audit_row(**event)
    await conn.run_sync(lambda sync: append_sync(sync, row))


def write_audit_sync(conn: Connection, **event: Any) -> None:
    """Append one audit event (fields as :func:`audit_row`) on a sync connection."""
    append_sync(conn, audit_row(**event))
