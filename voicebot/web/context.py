"""Helpers every route module uses: the signed-in user, the clock, audit events, JSON in and out.

Errors leave the app in one shape, ``{"error": code, "message": text}``, so the console and
scripts can tell an RBAC refusal (``unauthenticated``, ``forbidden``, ``csrf``) from a handler's
own answer (``invalid_credentials``, ``validation`` ...).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from voicebot.privacy.audit import write_audit
from voicebot.store.users import User
from voicebot.web.inputs import read_model
from voicebot.web.keys import CLOCK, STORE, USER

M = TypeVar("M", bound=BaseModel)

AUDIT_POLICY_VERSION = "web"  # audit rows written by the console carry this policy version


def user_of(request: web.Request) -> User:
    """The signed-in user (the RBAC middleware has already refused anonymous requests)."""
    return request[USER]


def now(request: web.Request) -> dt.datetime:
    """The app's clock (injectable so tests can drive TOTP and lockouts)."""
    return request.app[CLOCK]()


def client_address(request: web.Request) -> str:
    """The peer's IP address, as seen by this server (no proxy headers are trusted)."""
    return request.remote or "unknown"


def error(status: int, code: str, message: str, **headers: str) -> web.Response:
    """A JSON error response in the app's one error shape."""
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


async def audit(
    request: web.Request,
    kind: str,
    *,
    actor: str | None,
    number_masked: str = "",
    attempt_id: int | None = None,
    **detail: Any,
) -> None:
    """Append one audit event for a console action (who, from where, what; the attempt it
    concerns, if any, in its own column)."""
    payload = {"actor": actor, "address": client_address(request), **detail}
    async with request.app[STORE].write() as conn:
        await write_audit(
            conn,
            at=now(request),
            kind=kind,
            number_masked=number_masked,
            policy_version=AUDIT_POLICY_VERSION,
            attempt_id=attempt_id,
            detail=payload,
        )


async def read_body(request: web.Request, model: type[M]) -> M:
    """Parse and validate a JSON body within the limits of :func:`voicebot.web.inputs.read_json`;
    a bad one is a 400 naming each bad field.

    Raises:
        web.HTTPBadRequest: not UTF-8 JSON, past a limit, or a field fails validation.
    """
    return await read_model(request, model)
