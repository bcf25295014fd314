"""The signed-in user: ``/api/me`` (who am I) and ``/api/me/password`` (change my password)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from voicebot.store.users import set_password_hash
from voicebot.web.auth import WeakPassword
from voicebot.web.context import audit, error, now, read_body, user_of
from voicebot.web.keys import PASSWORDS, STORE
from voicebot.web.routes.session import user_json


class PasswordChange(BaseModel):
    """The current password (proof it is really the user) and the new one."""

    current: str = Field(min_length=1, max_length=1024)
    new: str = Field(min_length=1, max_length=1024)


async def get_me(request: web.Request) -> web.Response:
    """The signed-in user's name and roles."""
    return web.json_response(user_json(user_of(request)))


async def change_password(request: web.Request) -> web.Response:
    """Change one's own password; every session of the user ends (sign in again)."""
    body = await read_body(request, PasswordChange)
    user, passwords = user_of(request), request.app[PASSWORDS]
    if not passwords.verify(user.password_hash, body.current).ok:
        await audit(request, "password_change_failed", actor=user.name)
        return error(400, "invalid_credentials", "the current password is wrong")
    try:
        new_hash = passwords.hash(body.new, user=user.name)
    except WeakPassword as exc:
        return error(400, "weak_password", str(exc))
    async with request.app[STORE].write() as conn:
        await set_password_hash(conn, user.name, new_hash, now(request))
    await audit(request, "password_changed", actor=user.name, user=user.name)
    return web.json_response({"changed": True, "sign_in_again": True})
