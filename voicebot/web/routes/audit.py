"""The audit log, for auditors and admins (``/api/audit``); every read is itself audited.

Rows hold masked numbers only (the writers mask before inserting), so reading them reveals no
full number. Newest first, paged by id.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from voicebot.store.models import AUDIT_EVENTS
from voicebot.web.context import audit, user_of
from voicebot.web.inputs import ASCII_DIGITS, Id, Params, query_params
from voicebot.web.keys import STORE

MAX_LIMIT = 500


class AuditQuery(Params):
    """A page of the log: how many events, and the id the page ends before."""

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT), ASCII_DIGITS] = 100
    before: Id | None = None


async def get_audit(request: web.Request) -> web.Response:
    """Audit events, newest first: ``?limit=N`` (≤ 500) and ``?before=ID`` for the next page."""
    page = query_params(request, AuditQuery)
    limit, before = page.limit, page.before
    await audit(request, "audit_read", actor=user_of(request).name, limit=limit, before=before)
    query = select(AUDIT_EVENTS).order_by(AUDIT_EVENTS.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AUDIT_EVENTS.c.id < before)
    async with request.app[STORE].engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    events = [
        {
            "id": row.id,
            "at": row.at.isoformat(),
            "kind": row.kind,
            "number": row.number_masked,
            "campaign_id": row.campaign_id,
            "attempt_id": row.attempt_id,
            "allowed": row.allowed,
            "reasons": row.reasons,
            "policy_version": row.policy_version,
            "detail": row.detail,
        }
        for row in rows
    ]
    return web.json_response({"events": events})
