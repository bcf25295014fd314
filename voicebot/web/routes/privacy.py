"""Privacy operations for admins: erasing a number on request (the data subject's right)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from voicebot.privacy.erasure import NoErasureKey, erase
from voicebot.privacy.numbers import InvalidNumber
from voicebot.web.context import error, now, read_body, user_of
from voicebot.web.keys import STORE, VAULT


class ErasureRequest(BaseModel):
    """The number whose personal data must go."""

    number: str = Field(min_length=1, max_length=64)


async def erase_number(request: web.Request) -> web.Response:
    """Erase every piece of personal data of a number at once; keep only its hashed
    do-not-call entry; answer with the erasure report (numbers masked)."""
    body = await read_body(request, ErasureRequest)
    try:
        report = await erase(
            request.app[STORE],
            request.app[VAULT],
            body.number,
            now(request),
            actor=user_of(request).name,
        )
    except InvalidNumber as exc:
        return error(400, "invalid_number", str(exc))
    except NoErasureKey as exc:
        return error(503, "no_master_key", str(exc))
    return web.json_response(report.as_json())
