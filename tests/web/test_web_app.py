"""The web app end to end over a real loopback server and SQLite: sign-in rules (TOTP for
admins, lockout), what is audited, masking towards agents, the audited reveal, metrics."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.fernet import Fernet
from sqlalchemy import select

from tests.web_support import PASSWORD, TEST_NUMBER, WebFixture, running_app
from voicebot.store.models import AUDIT_EVENTS
from voicebot.store.users import Role
from voicebot.web.auth import session_storage
from voicebot.web.rbac import ROUTES
from voicebot.web.routespec import Open

FULL_DIGITS = re.compile(r"8?6?13800138000")  # the test number's national digits, any prefix


async def _audit(app: WebFixture) -> list[tuple[str, dict[str, Any], str]]:
    async with app.store.engine.connect() as conn:
        rows = (await conn.execute(select(AUDIT_EVENTS).order_by(AUDIT_EVENTS.c.id))).all()
    return [(r.kind, r.detail, r.number_masked) for r in rows]


async def _send(
    app: WebFixture, http: aiohttp.ClientSession, method: str, path: str, body: Any, csrf: str
) -> tuple[int, Any]:
    async with http.request(method, app.url(path), json=body, headers={"X-CSRF-Token": csrf}) as r:
        return r.status, await r.json()


async def test_admins_need_a_totp_code_and_sign_ins_are_audited(
    tmp_path: Path, repo_root: Path
) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        status, body = await app.login(http, "admin1", totp=None)
        assert (status, body["error"]) == (401, "totp_required")
        status, body = await app.login(http, "admin1", totp="000000")
        assert (status, body["error"]) == (401, "invalid_credentials")
        code = app.totp("admin1")
        status, body = await app.login(http, "admin1", totp=code)
        assert status == 200 and body["user"]["roles"] == ["admin"]
        status, body = await app.login(http, "admin1", totp=code)  # a code works once
        assert (status, body["error"]) == (401, "invalid_credentials")
        async with http.get(app.url("/api/me")) as r:
            assert (await r.json())["name"] == "admin1"
        events = await _audit(app)
        assert [k for k, _, _ in events] == ["login_failed", "login", "login_failed"]
        assert events[0][1]["reason"] == "totp" and events[0][1]["actor"] == "admin1"
        assert events[2][1]["reason"] == "totp_reused"
        assert events[1][1]["address"] == "127.0.0.1"


async def test_repeated_failures_lock_the_account_and_the_lockout_is_audited(
    tmp_path: Path, repo_root: Path
) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        for _ in range(5):
            status, _ = await app.login(http, "agent1", password="wrong password!")
            assert status == 401
        status, body = await app.login(http, "agent1")  # right password, but locked
        assert (status, body["error"]) == (429, "locked")
        kinds = [k for k, _, _ in await _audit(app)]
        assert kinds.count("login_failed") == 6 and kinds.count("login_lockout") == 1
        app.clock.advance(61)
        status, _ = await app.login(http, "agent1")
        assert status == 200


async def test_role_changes_and_audit_reads_are_audited(tmp_path: Path, repo_root: Path) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app:
        async with app.client() as admin:
            _, body = await app.login(admin, "admin1")
            csrf = body["csrf_token"]
            status, created = await _send(
                app, admin, "POST", "/api/users",
                {"name": "carol", "password": PASSWORD, "roles": ["agent"]}, csrf,
            )  # fmt: skip
            assert status == 201 and "totp_uri" not in created
            status, refused = await _send(
                app, admin, "PUT", "/api/users/admin1/roles", {"roles": ["agent"]}, csrf
            )
            assert (status, refused["error"]) == (409, "last_admin")
            status, updated = await _send(
                app, admin, "PUT", "/api/users/carol/roles", {"roles": ["agent", "admin"]}, csrf
            )
            assert status == 200 and updated["totp_uri"].startswith("otpauth://totp/")
        async with app.client() as auditor:
            await app.login(auditor, "auditor1")
            async with auditor.get(app.url("/api/audit?limit=5")) as r:
                assert r.status == 200
                events = (await r.json())["events"]
        assert events[0]["kind"] == "audit_read"  # the read itself is in what it returns
        audited = await _audit(app)
        kinds = [(k, d.get("actor"), d.get("user")) for k, d, _ in audited]
        change = next(d for k, d, _ in audited if k == "roles_changed")
        assert (change["before"], change["after"]) == (["agent"], ["admin", "agent"])
        assert ("user_added", "admin1", "carol") in kinds
        assert ("roles_changed", "admin1", "carol") in kinds
        assert ("audit_read", "auditor1", None) in kinds


async def test_an_agent_never_receives_a_full_number(tmp_path: Path, repo_root: Path) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        status, body = await app.login(http, "agent1")
        assert status == 200
        bodies = [str(body)]
        async with http.put(
            app.url("/api/agent/presence"),
            json={"status": "available"},
            headers={"X-CSRF-Token": body["csrf_token"]},
        ) as r:
            bodies.append(await r.text())
        for spec in ROUTES:
            if spec.method != "GET" or not spec.allows(frozenset({Role.AGENT})):
                continue
            async with http.get(app.url(spec.example_url()), params=dict(spec.example_query)) as r:
                assert r.status == 200, spec.path
                bodies.append(await r.text())
        async with http.get(app.url("/api/agent/handoffs")) as r:
            handoffs = (await r.json())["handoffs"]
        assert handoffs[0]["number"] == "+86 138****8000"  # the call is there, masked
        everything = "\n".join(bodies)
        assert "138****8000" in everything
        assert not FULL_DIGITS.search(everything.replace("****", "")), "a full number leaked"


async def test_an_admin_reveal_shows_the_number_and_is_audited(
    tmp_path: Path, repo_root: Path
) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        _, body = await app.login(http, "admin1")
        status, revealed = await _send(
            app, http, "POST", "/api/handoffs/h1/reveal", None, body["csrf_token"]
        )
        assert (status, revealed["number"]) == (200, TEST_NUMBER)
        reveal = [(d, m) for k, d, m in await _audit(app) if k == "number_revealed"]
        assert reveal == [({"actor": "admin1", "address": "127.0.0.1", "handoff": "h1"},
                           "+86 138****8000")]  # fmt: skip
        assert all(TEST_NUMBER not in str(row) for row in await _audit(app))


async def test_a_password_change_ends_the_session(tmp_path: Path, repo_root: Path) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        _, body = await app.login(http, "designer1")
        app.clock.advance(1)
        change = {"current": PASSWORD, "new": "another long passphrase"}
        status, answer = await _send(
            app, http, "POST", "/api/me/password", change, body["csrf_token"]
        )
        assert (status, answer["sign_in_again"]) == (200, True)
        async with http.get(app.url("/api/me")) as r:
            assert r.status == 401
        status, _ = await app.login(http, "designer1", password="another long passphrase")
        assert status == 200


async def test_designers_see_the_flows_with_their_details(tmp_path: Path, repo_root: Path) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        await app.login(http, "designer1")
        async with http.get(app.url("/api/flows")) as r:
            flows = {f["file"]: f for f in (await r.json())["flows"]}
        assert set(flows) == {p.name for p in (repo_root / "flows").glob("*.yaml")}
        assert flows["marketing_offer.yaml"]["purpose"] == "marketing"


async def test_metrics_count_requests_and_logins(tmp_path: Path, repo_root: Path) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        await app.login(http, "agent1")
        await app.login(http, "agent1", password="wrong password!")
        async with http.get(app.url("/metrics")) as r:
            assert r.status == 200 and r.content_type == "text/plain"
            text = await r.text()
        assert 'voicebot_logins_total{result="ok"} 1.0' in text
        assert 'voicebot_logins_total{result="failed"} 1.0' in text
        assert 'voicebot_http_requests_total{method="POST",route="/api/session",status="200"}' in (
            text
        )
        assert "agent1" not in text


def test_session_cookie_is_httponly_strict_and_secure_under_tls() -> None:
    key = Fernet.generate_key()
    plain, tls = session_storage(key, secure=False), session_storage(key, secure=True)
    assert plain.cookie_params["httponly"] and plain.cookie_params["samesite"] == "Strict"
    assert not plain.cookie_params["secure"] and tls.cookie_params["secure"]


async def test_pages_send_a_strict_content_security_policy(tmp_path: Path, repo_root: Path) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        async with http.get(app.url("/login")) as r:
            assert r.status == 200
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert "<script>" not in await r.text()  # no inline script: the CSP would block it
        async with http.get(app.url("/console"), allow_redirects=False) as r:
            assert r.status == 401 and "url=/login" in await r.text()
        assert all(s.access is not Open.PUBLIC or s.method == "GET" or s.path == "/api/session"
                   for s in ROUTES)  # fmt: skip
