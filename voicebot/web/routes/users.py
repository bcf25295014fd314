"""Console accounts, for admins: list, create, change roles, remove (``/api/users``).

Role changes are audited with the roles before and after; a role change or a removal ends the
user's sessions at once (the store does it in the same transaction). A user given the admin role
gets a TOTP secret at that moment; its provisioning URI is in that one response and nowhere else.
The last admin cannot lose the role (nobody could manage accounts afterwards).
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, BaseModel, Field

from voicebot.store.users import (
    NAME_MAX,
    Role,
    User,
    UserError,
    add_user,
    check_name,
    get_user,
    list_users,
    remove_user,
    set_roles,
)
from voicebot.web.auth import WeakPassword, new_totp_secret, totp_uri
from voicebot.web.context import audit, error, now, read_body, user_of
from voicebot.web.inputs import Params, path_params
from voicebot.web.keys import PASSWORDS, STORE
from voicebot.web.routes.session import user_json


class UserPath(Params):
    """An account is named by its user name (see :func:`voicebot.store.users.check_name`)."""

    name: Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(check_name)]


class UserCreate(BaseModel):
    """A new account."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    roles: list[Role] = Field(min_length=1)


class RolesUpdate(BaseModel):
    """The complete new set of roles (not a delta)."""

    roles: list[Role] = Field(min_length=1)


async def get_users(request: web.Request) -> web.Response:
    """Every account (no hashes, no secrets)."""
    async with request.app[STORE].engine.connect() as conn:
        users = await list_users(conn)
    return web.json_response({"users": [user_json(u) for u in users]})


async def create_user(request: web.Request) -> web.Response:
    """Create an account; an admin's TOTP provisioning URI is returned this once."""
    body = await read_body(request, UserCreate)
    roles = frozenset(body.roles)
    try:
        password_hash = request.app[PASSWORDS].hash(body.password, user=body.name)
    except WeakPassword as exc:
        return error(400, "weak_password", str(exc))
    secret = new_totp_secret() if Role.ADMIN in roles else None
    try:
        async with request.app[STORE].write() as conn:
            user = await add_user(
                conn,
                name=body.name,
                password_hash=password_hash,
                roles=roles,
                totp_secret=secret,
                now=now(request),
            )
    except UserError as exc:
        return error(409 if "exists" in str(exc) else 400, "user", str(exc))
    await audit(
        request, "user_added", actor=user_of(request).name, user=user.name, roles=sorted(roles)
    )
    return web.json_response(_with_uri(user, secret), status=201)


async def update_roles(request: web.Request) -> web.Response:
    """Replace a user's roles (audited: before and after)."""
    body = await read_body(request, RolesUpdate)
    name, roles = path_params(request, UserPath).name, frozenset(body.roles)
    async with request.app[STORE].write() as conn:
        user = await get_user(conn, name=name)
        if user is None:
            return error(404, "not_found", f"no user named {name!r}")
        if Role.ADMIN in user.roles and Role.ADMIN not in roles:
            admins = [u for u in await list_users(conn) if Role.ADMIN in u.roles]
            if len(admins) == 1:
                return error(409, "last_admin", "the last admin cannot lose the admin role")
        new_secret = new_totp_secret() if Role.ADMIN in roles and not user.totp_secret else None
        await set_roles(conn, name, roles, new_secret or user.totp_secret)
        updated = await get_user(conn, name=name)
    assert updated is not None
    await audit(
        request,
        "roles_changed",
        actor=user_of(request).name,
        user=name,
        before=sorted(user.roles),
        after=sorted(roles),
    )
    return web.json_response(_with_uri(updated, new_secret))


async def delete_user(request: web.Request) -> web.Response:
    """Remove an account; its sessions end with it (audited). The last admin cannot go."""
    name = path_params(request, UserPath).name
    async with request.app[STORE].write() as conn:
        user = await get_user(conn, name=name)
        if user is None:
            return error(404, "not_found", f"no user named {name!r}")
        if Role.ADMIN in user.roles:
            admins = [u for u in await list_users(conn) if Role.ADMIN in u.roles]
            if len(admins) == 1:
                return error(409, "last_admin", "the last admin cannot be removed")
        await remove_user(conn, name)
    await audit(
        request, "user_removed", actor=user_of(request).name, user=name, roles=sorted(user.roles)
    )
    return web.json_response({"removed": name})


def _with_uri(user: User, secret: str | None) -> dict[str, Any]:
    shown = user_json(user)
    if secret is not None:
        shown["totp_uri"] = totp_uri(user.name, secret)
    return shown
