"""The agent's side of handoffs: presence (available/away) and the queue of waiting calls.

Agents only ever receive :func:`voicebot.web.handoffs.agent_view` (masked numbers). An admin may
see a waiting call's full number through ``/api/handoffs/{id}/reveal``, and each reveal is
audited. Taking a call (warm transfer, audio) is the call side's, to come.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from voicebot.privacy.masking import mask_number
from voicebot.web.context import audit, error, now, read_body, user_of
from voicebot.web.handoffs import Presence, agent_view
from voicebot.web.keys import HANDOFF_QUEUE, METRICS, PRESENCE

MAX_WAIT_S = 25.0


class PresenceUpdate(BaseModel):
    """The agent's new status."""

    status: Presence


async def get_presence(request: web.Request) -> web.Response:
    """The signed-in agent's status (``away`` until they set one)."""
    entry = request.app[PRESENCE].get(user_of(request).name)
    if entry is None:
        return web.json_response({"status": Presence.AWAY.value, "since": None})
    return web.json_response({"status": entry.status.value, "since": entry.since.isoformat()})


async def put_presence(request: web.Request) -> web.Response:
    """Go available or away."""
    body = await read_body(request, PresenceUpdate)
    board = request.app[PRESENCE]
    entry = board.set(user_of(request).name, body.status, now(request))
    request.app[METRICS].agents_available.set(len(board.available(now(request))))
    return web.json_response({"status": entry.status.value, "since": entry.since.isoformat()})


async def get_handoffs(request: web.Request) -> web.Response:
    """Waiting calls (masked). ``?since=V&wait=S`` long-polls until the queue's version moves."""
    queue = request.app[HANDOFF_QUEUE]
    try:
        since = int(request.query["since"]) if "since" in request.query else None
        wait = min(float(request.query.get("wait", "0")), MAX_WAIT_S)
    except ValueError:
        return error(400, "validation", "since must be a whole number and wait a number")
    board = request.app[PRESENCE]
    board.seen(user_of(request).name, now(request))
    if since is not None and wait > 0:
        await queue.wait_changed(since, wait)
        board.seen(user_of(request).name, now(request))
    pending = await queue.pending()
    metrics = request.app[METRICS]
    metrics.handoffs_waiting.set(len(pending))
    metrics.agents_available.set(len(board.available(now(request))))
    return web.json_response(
        {"version": queue.version, "handoffs": [agent_view(o) for o in pending]}
    )


async def reveal_number(request: web.Request) -> web.Response:
    """An admin sees a waiting call's full number; the reveal is audited."""
    offer = await request.app[HANDOFF_QUEUE].get(request.match_info["id"])
    if offer is None:
        return error(404, "not_found", "no such waiting call")
    await audit(
        request,
        "number_revealed",
        actor=user_of(request).name,
        number_masked=mask_number(offer.number),
        handoff=offer.id,
    )
    return web.json_response({"id": offer.id, "number": offer.number})
