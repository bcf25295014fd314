"""The agent's side of handoffs: presence, the call ringing at their console, accepting it with
their browser's audio, hanging up, and the wrap-up disposition.

Agents only ever receive :func:`voicebot.handoff.agent_view` (masked numbers). An admin may
see a waiting call's full number through ``/api/handoffs/{id}/reveal``, and each reveal is
audited; so is every accept, decline and disposition.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from voicebot.compliance.dispositions import Disposition
from voicebot.handoff import DeskError, Presence, agent_view
from voicebot.privacy.masking import mask_number
from voicebot.web.context import audit, error, now, read_body, user_of
from voicebot.web.inputs import Counter, Params, path_params, query_params
from voicebot.web.keys import DESK, HANDOFF_QUEUE, METRICS, PRESENCE

MAX_WAIT_S = 25.0


HANDOFF_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$"  # "<campaign>-<attempt>"


class HandoffPath(Params):
    """A waiting or ringing call is named by its handoff id."""

    id: str = Field(pattern=HANDOFF_ID)


class HandoffsQuery(Params):
    """Long-poll: answer once the queue's version moves past ``since``, or after ``wait`` s."""

    since: Counter | None = None
    wait: float = Field(default=0.0, ge=0, allow_inf_nan=False)


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
    request.app[DESK].set_presence(user_of(request).name, body.status)
    await request.app[HANDOFF_QUEUE].touch()  # the agent's other tabs see it at once
    entry = board.get(user_of(request).name)
    assert entry is not None
    request.app[METRICS].agents_available.set(len(board.available(now(request))))
    return web.json_response({"status": entry.status.value, "since": entry.since.isoformat()})


async def get_handoffs(request: web.Request) -> web.Response:
    """Waiting calls (masked). ``?since=V&wait=S`` long-polls until the queue's version moves."""
    queue = request.app[HANDOFF_QUEUE]
    poll = query_params(request, HandoffsQuery)
    since, wait = poll.since, min(poll.wait, MAX_WAIT_S)
    board = request.app[PRESENCE]
    board.seen(user_of(request).name, now(request))
    if since is not None and wait > 0:
        await queue.wait_changed(since, wait)
        board.seen(user_of(request).name, now(request))
    pending = await queue.pending()
    metrics = request.app[METRICS]
    metrics.handoffs_waiting.set(len(pending))
    metrics.agents_available.set(len(board.available(now(request))))
    activity, offer = request.app[DESK].activity(user_of(request).name)
    entry = board.get(user_of(request).name)
    mine = {
        "presence": entry.status.value if entry else Presence.AWAY.value,
        "activity": activity.value,
        "handoff": agent_view(offer) if offer else None,
    }
    return web.json_response(
        {"version": queue.version, "handoffs": [agent_view(o) for o in pending], "mine": mine}
    )


async def reveal_number(request: web.Request) -> web.Response:
    """An admin sees a waiting call's full number; the reveal is audited."""
    offer = await request.app[HANDOFF_QUEUE].get(path_params(request, HandoffPath).id)
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


class AudioOffer(BaseModel):
    """The browser's WebRTC offer (complete: ICE gathered, no trickle)."""

    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=20_000)


class WrapUp(BaseModel):
    """How the agent closes the call."""

    disposition: Disposition
    note: str = Field(default="", max_length=2000)
    callback_at: dt.datetime | None = None


def _refused(exc: DeskError) -> web.Response:
    status = 404 if exc.code == "gone" else 409
    return error(status, exc.code, str(exc))


async def accept_handoff(request: web.Request) -> web.Response:
    """Take the call ringing at this console: answer the browser's audio offer; the caller is
    bridged once the audio connects."""
    from voicebot.telephony.browser import BrowserOfferError, answer_browser

    body = await read_body(request, AudioOffer)
    desk, agent = request.app[DESK], user_of(request).name
    offer_id = path_params(request, HandoffPath).id
    activity, offer = desk.activity(agent)
    if offer is None or offer.id != offer_id or activity.value != "ringing":
        return error(409, "not_yours", "that call is not ringing at your console")
    try:
        leg, answer = await answer_browser(body.sdp)
    except BrowserOfferError as exc:
        return error(400, "bad_offer", f"the browser's audio offer is unusable: {exc}")
    try:
        await desk.accept(offer_id, agent, leg)
    except DeskError as exc:
        await leg.hangup()
        return _refused(exc)
    await audit(
        request, "handoff_accepted", actor=agent, handoff=offer_id,
        number_masked=mask_number(offer.number),
    )  # fmt: skip
    return web.json_response({"type": "answer", "sdp": answer})


async def decline_handoff(request: web.Request) -> web.Response:
    """Let the call go to the next agent."""
    agent, offer_id = user_of(request).name, path_params(request, HandoffPath).id
    try:
        request.app[DESK].decline(offer_id, agent)
    except DeskError as exc:
        return _refused(exc)
    await audit(request, "handoff_declined", actor=agent, handoff=offer_id)
    return web.json_response({"declined": offer_id})


async def hang_up(request: web.Request) -> web.Response:
    """End the call with the caller; the wrap-up follows."""
    agent, offer_id = user_of(request).name, path_params(request, HandoffPath).id
    try:
        await request.app[DESK].hang_up(offer_id, agent)
    except DeskError as exc:
        return _refused(exc)
    return web.json_response({"hung_up": offer_id})


async def wrap_up(request: web.Request) -> web.Response:
    """Record the call's disposition; it feeds the compliance rules (do not call, review,
    callback), and the agent is free for the next call."""
    body = await read_body(request, WrapUp)
    agent, offer_id = user_of(request).name, path_params(request, HandoffPath).id
    if body.callback_at is not None and body.callback_at.tzinfo is None:
        return error(400, "validation", "callback_at needs a time zone offset")
    try:
        record = await request.app[DESK].dispose(
            offer_id, agent, body.disposition, body.note, body.callback_at
        )
    except DeskError as exc:
        return _refused(exc)
    await audit(
        request, "call_disposition", actor=agent, handoff=offer_id,
        disposition=record.disposition.value,
    )  # fmt: skip
    return web.json_response({"handoff": offer_id, "disposition": record.disposition.value})
