"""The audit log, for auditors and admins (``/api/audit``); every read is itself audited.

Rows hold masked numbers only (the writers mask before inserting), so reading them reveals no
full number. Newest first, paged by id.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from voicebot.store.models import AUDIT_EVENTS
from voicebot.web.context import audit, error, user_of
from voicebot.web.keys import STORE

MAX_LIMIT = 500


async def get_audit(request: web.Request) -> web.Response:
    """Audit events, newest first: ``?limit=N`` (≤ 500) and ``?before=ID`` for the next page."""
    try:
        limit = int(request.query.get("limit", "100"))
        before = int(request.query["before"]) if "before" in request.query else None
    except ValueError:
        return error(400, "validation", "limit and before must be whole numbers")
    if not 1 <= limit <= MAX_LIMIT:
        return error(400, "validation", f"limit must be between 1 and {MAX_LIMIT}")
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
