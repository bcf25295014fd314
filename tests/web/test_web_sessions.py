"""Sessions end on the server, not only in the browser: a cookie copied before sign-out, a
password change, a role change or the user's removal stops working at once, and on every server
process that shares the store (SQLite file or PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet

from tests.web_support import PASSWORD, WebFixture, running_app
from voicebot.store.users import get_user
from voicebot.store.web_sessions import count_sessions


def _cookie(http: aiohttp.ClientSession) -> str:
    """The session cookie as a thief would copy it (name=value)."""
    cookies = [c for c in http.cookie_jar if c.key == "voicebot_session"]
    assert len(cookies) == 1
    return f"{cookies[0].key}={cookies[0].value}"


@asynccontextmanager
async def _thief(cookie: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A client with no jar of its own that replays a copied cookie on every request."""
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), headers={"Cookie": cookie}
    ) as http:
        yield http


async def _status(
    app: WebFixture,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    csrf: str = "",
    body: Any = None,
) -> int:
    async with http.request(
        method, app.url(path), json=body, headers={"X-CSRF-Token": csrf} if csrf else {}
    ) as r:
        return r.status


async def _send(
    app: WebFixture, http: aiohttp.ClientSession, method: str, path: str, body: Any, csrf: str
) -> tuple[int, Any]:
    async with http.request(method, app.url(path), json=body, headers={"X-CSRF-Token": csrf}) as r:
        return r.status, await r.json()


async def test_a_cookie_copied_before_sign_out_no_longer_works(
    tmp_path: Path, repo_root: Path
) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        status, body = await app.login(http, "agent1")
        assert status == 200
        csrf, cookie = body["csrf_token"], _cookie(http)
        async with _thief(cookie) as thief:
            assert await _status(app, thief, "GET", "/api/me") == 200  # the copy works ...
            assert await _status(app, http, "DELETE", "/api/session", csrf) == 200
            # ... until the owner signs out, wherever the copy is replayed.
            assert await _status(app, thief, "GET", "/api/me") == 401
            presence = {"status": "available"}
            assert await _status(app, thief, "PUT", "/api/agent/presence", csrf, presence) == 401
        assert await count_sessions(app.store) == 0


async def test_password_change_role_change_and_removal_end_the_users_sessions(
    tmp_path: Path, repo_root: Path
) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as admin:
        _, body = await app.login(admin, "admin1")
        admin_csrf = body["csrf_token"]
        copies: dict[str, str] = {}
        for name in ("designer1", "auditor1", "agent1"):
            async with app.client() as http:
                status, _ = await app.login(http, name)
                assert status == 200
                copies[name] = _cookie(http)
        status, _ = await _send(
            app, admin, "PUT", "/api/users/designer1/roles", {"roles": ["designer", "auditor"]},
            admin_csrf,
        )  # fmt: skip
        assert status == 200
        status, _ = await _send(app, admin, "DELETE", "/api/users/auditor1", None, admin_csrf)
        assert status == 200
        async with app.store.engine.connect() as conn:
            assert await get_user(conn, name="auditor1") is None
        # agent1 changes their own password from another device: the first device is signed out.
        async with app.client() as other:
            _, body = await app.login(other, "agent1")
            change = {"current": PASSWORD, "new": "another long passphrase"}
            status, _ = await _send(
                app, other, "POST", "/api/me/password", change, body["csrf_token"]
            )
            assert status == 200
            assert await _status(app, other, "GET", "/api/me") == 401
        for name, cookie in copies.items():
            async with _thief(cookie) as thief:
                assert await _status(app, thief, "GET", "/api/me") == 401, name
        assert await _status(app, admin, "GET", "/api/me") == 200  # the admin's own goes on


async def test_the_admin_cannot_remove_the_last_admin_or_an_unknown_user(
    tmp_path: Path, repo_root: Path
) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as admin:
        _, body = await app.login(admin, "admin1")
        status, answer = await _send(app, admin, "DELETE", "/api/users/admin1", None,
                                     body["csrf_token"])  # fmt: skip
        assert (status, answer["error"]) == (409, "last_admin")
        status, answer = await _send(app, admin, "DELETE", "/api/users/nobody", None,
                                     body["csrf_token"])  # fmt: skip
        assert (status, answer["error"]) == (404, "not_found")


async def _sign_out_elsewhere(url: str, tmp_path: Path, repo_root: Path) -> None:
    key = Fernet.generate_key()  # the servers share the session key, as `serve` processes do
    async with (
        running_app(tmp_path / "a", repo_root / "flows", db_url=url, session_key=key) as first,
        running_app(
            tmp_path / "b", repo_root / "flows", db_url=url, session_key=key, seeded_by=first
        ) as second,
        first.client() as http,
    ):
        status, body = await first.login(http, "agent1")
        assert status == 200
        cookie = _cookie(http)
        async with _thief(cookie) as thief:
            assert await _status(second, thief, "GET", "/api/me") == 200
            # The owner signs out through the second process (same cookie, same token).
            assert await _status(second, thief, "DELETE", "/api/session", body["csrf_token"]) == 200
            assert await _status(first, thief, "GET", "/api/me") == 401
            assert await _status(second, thief, "GET", "/api/me") == 401


async def test_sign_out_on_one_server_process_ends_the_session_on_the_others(
    tmp_path: Path, repo_root: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    await _sign_out_elsewhere(str(tmp_path / "shared.db"), tmp_path, repo_root)


@pytest.mark.integration
async def test_sign_out_ends_the_session_on_every_process_over_postgresql(
    pg_url: str, tmp_path: Path, repo_root: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    await _sign_out_elsewhere(pg_url, tmp_path, repo_root)


async def _totp_code_once(url: str, tmp_path: Path, repo_root: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    key = Fernet.generate_key()
    async with (
        running_app(tmp_path / "a", repo_root / "flows", db_url=url, session_key=key) as first,
        running_app(
            tmp_path / "b", repo_root / "flows", db_url=url, session_key=key, seeded_by=first
        ) as second,
        first.client() as one,
        second.client() as other,
    ):
        first.clock.advance(30)
        code = first.totp("admin1")
        status, _ = await first.login(one, "admin1", totp=code)
        assert status == 200
        status, body = await second.login(other, "admin1", totp=code)
        assert (status, body["error"]) == (401, "invalid_credentials")
        second.clock.advance(30)
        status, _ = await second.login(other, "admin1")  # the next code works there
        assert status == 200


async def test_an_admins_totp_code_works_once_across_server_processes(
    tmp_path: Path, repo_root: Path
) -> None:
    """The replay guard lives in the store: a code watched over the admin's shoulder is spent
    on every process, not only on the one it was first typed into."""
    await _totp_code_once(str(tmp_path / "shared.db"), tmp_path, repo_root)


@pytest.mark.integration
async def test_an_admins_totp_code_works_once_across_processes_over_postgresql(
    pg_url: str, tmp_path: Path, repo_root: Path
) -> None:
    await _totp_code_once(pg_url, tmp_path, repo_root)
