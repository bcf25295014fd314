"""The RBAC matrix: every route of the table x every role (and anonymous) gets exactly the answer
the table says; state-changing requests without the CSRF token are refused; the OpenAPI document
covers the same table."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate

from tests.web_support import ROLE_USER, WebFixture, running_app
from voicebot.store.users import Role
from voicebot.web.openapi import openapi_document
from voicebot.web.ratelimit import LimitRule, LoginLimiter
from voicebot.web.rbac import ROUTES
from voicebot.web.routespec import Open, RouteSpec

REFUSALS = {"unauthenticated", "forbidden", "csrf"}
# Generous limits: the matrix signs in ~100 times from one address.
_LOOSE = LimitRule(10_000, dt.timedelta(minutes=1), dt.timedelta(seconds=1))


# The table again, written out by hand: a change to who may call what must change this test too.
EXPECTED_ACCESS: dict[tuple[str, str], str] = {
    ("GET", "/"): "public",
    ("GET", "/login"): "public",
    ("GET", "/console"): "agent",
    ("GET", "/admin"): "admin",
    ("GET", "/static/{name}"): "public",
    ("GET", "/metrics"): "loopback",
    ("GET", "/api/openapi.json"): "public",
    ("GET", "/api/session"): "public",
    ("POST", "/api/session"): "public",
    ("DELETE", "/api/session"): "authenticated",
    ("GET", "/api/me"): "authenticated",
    ("POST", "/api/me/password"): "authenticated",
    ("GET", "/api/flows"): "admin designer",
    ("GET", "/api/audit"): "admin auditor",
    ("GET", "/audit"): "admin auditor",
    ("GET", "/api/campaigns"): "admin auditor",
    ("GET", "/api/campaigns/{name}/report"): "admin auditor",
    ("GET", "/api/campaigns/{name}/calls"): "admin auditor",
    ("GET", "/api/calls/{attempt}/transcript"): "admin auditor",
    ("GET", "/api/calls/{attempt}/recording"): "admin auditor",
    ("GET", "/api/calls/{attempt}/qa"): "admin auditor",
    ("GET", "/api/flows/{name}"): "admin designer",
    ("PUT", "/api/flows/{name}"): "admin designer",
    ("GET", "/api/flows/{name}/graph"): "admin designer",
    ("GET", "/api/prompts/{locale}"): "admin designer",
    ("GET", "/api/users"): "admin",
    ("POST", "/api/users"): "admin",
    ("PUT", "/api/users/{name}/roles"): "admin",
    ("DELETE", "/api/users/{name}"): "admin",
    ("POST", "/api/handoffs/{id}/reveal"): "admin",
    ("POST", "/api/admin/erase"): "admin",
    ("GET", "/api/agent/presence"): "agent",
    ("PUT", "/api/agent/presence"): "agent",
    ("GET", "/api/agent/handoffs"): "agent",
    ("POST", "/api/agent/handoffs/{id}/accept"): "agent",
    ("POST", "/api/agent/handoffs/{id}/decline"): "agent",
    ("POST", "/api/agent/calls/{id}/hangup"): "agent",
    ("POST", "/api/agent/calls/{id}/disposition"): "agent",
}


def test_route_table_is_the_reviewed_one() -> None:
    def words(spec: RouteSpec) -> str:
        if isinstance(spec.access, Open):
            return spec.access.value
        return " ".join(sorted(r.value for r in spec.access))

    assert {(s.method, s.path): words(s) for s in ROUTES} == EXPECTED_ACCESS


async def _call(
    app: WebFixture, http: aiohttp.ClientSession, spec: RouteSpec, csrf: str | None
) -> tuple[int, dict[str, Any] | None]:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    async with http.request(
        spec.method,
        app.url(spec.example_url()),
        params=dict(spec.example_query),
        json=dict(spec.example_body) if spec.example_body is not None else None,
        headers=headers,
        allow_redirects=False,
    ) as r:
        body = await r.json() if r.content_type == "application/json" else None
        return r.status, body


def _refused(status: int, body: dict[str, Any] | None) -> bool:
    if status not in (401, 403):
        return False
    # JSON refusals name their reason; pages are refused with HTML (no handler answers 401/403).
    return body is None or body.get("error") in REFUSALS


def _expected(spec: RouteSpec, role: Role | None) -> int | None:
    """The refusal status the table demands, or ``None`` when the call must get through."""
    if spec.allows(None if role is None else frozenset({role})):
        return None
    return 401 if role is None else 403


async def test_every_route_and_role_get_what_the_table_says(
    tmp_path: Path, repo_root: Path
) -> None:
    limiter = LoginLimiter(_LOOSE, _LOOSE)
    async with running_app(tmp_path, repo_root / "flows", limiter) as app:
        checked = 0
        for role in (None, *Role):
            for spec in ROUTES:
                async with app.client() as http:
                    if role is None:
                        csrf = await app.csrf(http)
                    else:
                        status, body = await app.login(http, ROLE_USER[role])
                        assert status == 200, body
                        csrf = body["csrf_token"]
                    status, answer = await _call(app, http, spec, csrf)
                want = _expected(spec, role)
                where = f"{spec.method} {spec.path} as {role or 'anonymous'}: {status} {answer}"
                if want is None:
                    assert not _refused(status, answer), where
                    assert status < 500, where
                else:
                    assert status == want and _refused(status, answer), where
                checked += 1
        assert checked == len(ROUTES) * (len(Role) + 1)


async def test_state_changing_requests_without_the_csrf_token_are_refused(
    tmp_path: Path, repo_root: Path
) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app:
        changing = [s for s in ROUTES if s.state_changing]
        assert {s.method for s in changing} >= {"POST", "PUT", "DELETE"}
        for spec in changing:
            role = next(
                (r for r in Role if spec.allows(frozenset({r}))), Role.ADMIN
            )  # a role the table lets through
            for token in (None, "forged-token"):
                async with app.client() as http:
                    status, _ = await app.login(http, ROLE_USER[role])
                    assert status == 200
                    status, answer = await _call(app, http, spec, token)
                assert status == 403, f"{spec.method} {spec.path} with token {token!r}"
                assert answer is not None and answer["error"] == "csrf"


async def test_a_login_without_the_csrf_token_is_refused(tmp_path: Path, repo_root: Path) -> None:
    async with (
        running_app(tmp_path, repo_root / "flows") as app,
        app.client() as http,
        http.post(app.url("/api/session"), json={"name": "agent1", "password": "x" * 12}) as r,
    ):
        assert r.status == 403
        assert (await r.json())["error"] == "csrf"


def test_openapi_document_covers_the_route_table() -> None:
    document = openapi_document(ROUTES)
    validate(document)  # against the OpenAPI 3.1 schema
    assert document["openapi"] == "3.1.0"
    operations = {
        (method.upper(), path): op
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    assert len(operations) == len(ROUTES)
    for spec in ROUTES:
        op = operations[(spec.method, spec.path)]
        assert op["operationId"] == spec.operation_id
        if isinstance(spec.access, frozenset):
            assert op["x-roles"] == sorted(r.value for r in spec.access)
            assert set(op["responses"]) >= {"401", "403"}
        if spec.body is not None:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in document["components"]["schemas"]
    ids = [spec.operation_id for spec in ROUTES]
    assert len(ids) == len(set(ids)), "operation ids must be unique"


@pytest.mark.parametrize("spec", ROUTES, ids=lambda s: f"{s.method} {s.path}")
def test_every_route_declares_valid_examples(spec: RouteSpec) -> None:
    spec.example_url()  # every path parameter has an example value
    # Every path parameter is typed and validated before the handler (voicebot.web.inputs).
    names = set(re.findall(r"\{(\w+)\}", spec.path))
    if names:
        assert spec.path_model is not None and set(spec.path_model.model_fields) == names
        spec.path_model.model_validate(dict(spec.example_path))
    if spec.example_query:
        assert spec.query_model is not None
        spec.query_model.model_validate(dict(spec.example_query))
    if spec.body is not None:
        assert spec.example_body is not None
        spec.body.model_validate(dict(spec.example_body))
    if spec.access is Open.LOOPBACK:
        assert spec.method == "GET"
