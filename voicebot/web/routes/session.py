"""Signing in and out: ``/api/session``.

A sign-in is checked against the rate limiter first, then the password (argon2), then, for
admins, the TOTP code (each code works once, on every server process: the last spent step is
kept in the store). Every success, failure and lockout is audited.
On success the session is replaced (a new cookie and a new CSRF token), so a token planted
before sign-in is useless, and recorded in the store; signing out deletes that record, so a copy
of the cookie stops working too, on every server process sharing the store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from aiohttp_session import get_session, new_session
from pydantic import BaseModel, Field

from voicebot.handoff import Presence
from voicebot.store.users import Role, User, claim_totp_step, get_user, set_password_hash
from voicebot.store.web_sessions import end_session, open_session
from voicebot.web.auth import (
    SESSION_MAX_AGE_S,
    csrf_token,
    session_user,
    start_session,
    totp_step,
)
from voicebot.web.context import audit, client_address, error, now, read_body
from voicebot.web.keys import DESK, LIMITER, METRICS, PASSWORDS, STORE, USER


class LoginRequest(BaseModel):
    """Credentials; ``totp`` is required for admins."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=12, description="6-digit code (admins).")


def user_json(user: User) -> dict[str, Any]:
    """A user as the API shows it (never the hash or the TOTP secret)."""
    return {
        "name": user.name,
        "roles": sorted(r.value for r in user.roles),
        "totp_enabled": user.totp_secret is not None,
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
    }


async def get_session_state(request: web.Request) -> web.Response:
    """Who is signed in, and the CSRF token to send with the next state-changing request."""
    session = await get_session(request)
    user = request.get(USER)
    return web.json_response(
        {
            "authenticated": user is not None,
            "user": user_json(user) if user is not None else None,
            "csrf_token": csrf_token(session),
        }
    )


async def login(request: web.Request) -> web.Response:
    """Sign in with name, password and (admins) a TOTP code."""
    body = await read_body(request, LoginRequest)
    at, address = now(request), client_address(request)
    limiter, metrics = request.app[LIMITER], request.app[METRICS]
    lockout = await limiter.check(request.app[STORE], body.name, address, at)
    if lockout is not None:
        metrics.logins.labels("locked").inc()
        await audit(request, "login_failed", actor=body.name, reason=f"locked_{lockout.scope}")
        return error(
            429,
            "locked",
            f"too many failed sign-ins for this {lockout.scope}; try again later",
            **{"Retry-After": str(lockout.retry_after(at))},
        )
    async with request.app[STORE].engine.connect() as conn:
        user = await get_user(conn, name=body.name)
    usable = user if user is not None and not user.disabled else None
    verified = request.app[PASSWORDS].verify(
        usable.password_hash if usable else None, body.password
    )
    reason = None if verified.ok else "password"
    if usable is not None and verified.ok and Role.ADMIN in usable.roles:
        if usable.totp_secret is None:
            reason = "admin_without_totp"
        elif not body.totp:
            metrics.logins.labels("totp_required").inc()
            return error(401, "totp_required", "admins must also give their TOTP code")
        else:
            step = totp_step(usable.totp_secret, body.totp, at)
            if step is None:
                reason = "totp"
            else:
                async with request.app[STORE].write() as conn:
                    if not await claim_totp_step(conn, usable.id, step):
                        reason = "totp_reused"
    if usable is None or reason is not None:
        return await _refuse(request, body.name, reason or "unknown_user")
    await limiter.passed(request.app[STORE], body.name)
    async with request.app[STORE].write() as conn:
        if verified.needs_rehash:
            new_hash = request.app[PASSWORDS].hash(body.password)
            await set_password_hash(conn, usable.name, new_hash, at, rehash=True)
        lifetime = dt.timedelta(seconds=SESSION_MAX_AGE_S)
        session_token = await open_session(conn, usable.id, at, lifetime)
    session = await new_session(request)
    token = start_session(session, usable.id, at, session_token)
    metrics.logins.labels("ok").inc()
    await audit(request, "login", actor=usable.name, roles=sorted(usable.roles))
    return web.json_response(
        {"authenticated": True, "user": user_json(usable), "csrf_token": token}
    )


async def _refuse(request: web.Request, name: str, reason: str) -> web.Response:
    at, address = now(request), client_address(request)
    started = await request.app[LIMITER].failed(request.app[STORE], name, address, at)
    request.app[METRICS].logins.labels("failed").inc()
    await audit(request, "login_failed", actor=name, reason=reason)
    for lockout in started:
        await audit(
            request,
            "login_lockout",
            actor=name,
            scope=lockout.scope,
            until=lockout.until.isoformat(),
        )
    return error(401, "invalid_credentials", "wrong name, password or code")


async def logout(request: web.Request) -> web.Response:
    """Sign out: the session ends on the server (every copy of the cookie stops working) and
    the cookie is cleared."""
    session = await get_session(request)
    carried = session_user(session)
    if carried is not None:
        async with request.app[STORE].write() as conn:
            await end_session(conn, carried.token)
    session.invalidate()
    user = request.get(USER)
    if user is not None and Role.AGENT in user.roles:
        request.app[DESK].set_presence(user.name, Presence.AWAY)  # no calls after sign-out
    await audit(request, "logout", actor=user.name if user else None)
    return web.json_response({"authenticated": False})
