"""Fuzz every operation of the OpenAPI document against a running server: no input is a 500.

For each operation, and for each role the document says may call it (anonymous for public
routes), Hypothesis sends path and query parameters and bodies drawn from the operation's own
schemas mixed with hostile ones: non-ASCII digits, numbers past 64 bits
or of thousands of digits, NUL, lone surrogates, arbitrary text and bytes, JSON nested thousands
deep. State-changing calls carry the session's CSRF token so they reach their handlers. The
number of examples is bounded so the whole file stays well under a minute.

The server runs on its own event loop in a thread, so Hypothesis drives it from plain tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from tests.paths import ROOT
from tests.web_support import ROLE_USER, WebFixture, running_app
from voicebot.store.users import Role
from voicebot.web.openapi import openapi_document
from voicebot.web.ratelimit import LimitRule, LoginLimiter
from voicebot.web.rbac import ROUTES

T = TypeVar("T")
EXAMPLES = 12  # per operation and role: about 800 requests in all
_LOOSE = LimitRule(100_000, dt.timedelta(minutes=1), dt.timedelta(seconds=1))
REPO = ROOT
DOCUMENT = openapi_document(ROUTES)


@dataclass(frozen=True)
class Target:
    """One operation, called as one role (``None``: anonymous)."""

    method: str
    path: str
    operation: dict[str, Any]
    role: Role | None

    def __str__(self) -> str:
        return f"{self.method} {self.path} as {self.role.value if self.role else 'anonymous'}"


def _targets() -> list[Target]:
    found = []
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            roles = operation["x-roles"]
            if roles in (["public"], ["loopback"]):
                callers: list[Role | None] = [None]
            elif roles == ["authenticated"]:
                callers = list(Role)
            else:
                callers = [Role(r) for r in roles]
            found += [Target(method.upper(), path, operation, role) for role in callers]
    return found


TARGETS = _targets()

# Text that broke, or could break, a handler: digits that are not ASCII, numbers past 64 bits or
# past int()'s limit, signs and separators int() accepts, NUL, a lone surrogate, a dot segment.
NASTY_TEXT = st.sampled_from(
    ["²", "٣", "１", "9" * 20, "-9" * 10, "9" * 5000, "+5", " 5", "5_0", "0", "-1", "1e400",
     "nan", "inf", "\x00", "a\x00b", "\ud800", "..", "%", "h1", "new-agent", "../../etc/passwd"]
)  # fmt: skip
TEXT = st.one_of(NASTY_TEXT, st.text(max_size=40))
DEEP = b"[" * 20_000 + b"]" * 20_000
NASTY_BODIES = st.sampled_from(
    [DEEP, b'{"a":' * 5000 + b"1" + b"}" * 5000, b'{"x": ' + b"7" * 5000 + b"}", b"NaN",
     b'{"x": 1e999}', b"\xff\xfe", b"", b"null", b'"\\ud800"', b'{"name": "\\u0000"}']
)  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _encode(value: Any) -> str:
    """A value as one percent-encoded path segment or query value (surrogates as their bytes)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _schema_values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values a schema of the document allows.

    Covers the JSON Schema keywords the document uses (pydantic's output for our models); a
    keyword it does not know fails the test, so a new one cannot silently go unfuzzed.
    (hypothesis-jsonschema would do this, but its last release breaks on current Hypothesis.)
    """
    known = {"$ref", "const", "enum", "anyOf", "type", "title", "description", "default",
             "minimum", "maximum", "minLength", "maxLength", "pattern", "format", "items",
             "minItems", "properties", "required"}  # fmt: skip
    assert set(schema) <= known, f"unfuzzed JSON Schema keywords: {set(schema) - known}"
    if "$ref" in schema:
        return _schema_values(DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of(*(_schema_values(choice) for choice in schema["anyOf"]))
    kind = schema.get("type")
    low, high = schema.get("minimum"), schema.get("maximum")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(min_value=low, max_value=high)
    if kind == "number":
        return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
    if kind == "string":
        shortest, longest = schema.get("minLength", 0), min(schema.get("maxLength", 80), 80)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        if schema.get("format") == "date-time":
            return st.datetimes(timezones=st.sampled_from([dt.UTC, None])).map(
                dt.datetime.isoformat
            )
        return st.text(min_size=shortest, max_size=max(shortest, longest))
    if kind == "array":
        items = _schema_values(schema["items"])
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=4)
    if kind == "object":
        properties = {k: _schema_values(v) for k, v in schema.get("properties", {}).items()}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: v for k, v in properties.items() if k in required},
            optional={k: v for k, v in properties.items() if k not in required},
        )
    raise AssertionError(f"unfuzzed schema: {schema}")


def _parameter(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.one_of(_schema_values(schema), TEXT, st.integers())


def _body(operation: dict[str, Any]) -> st.SearchStrategy[bytes | None]:
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    hostile = st.one_of(NASTY_BODIES, JSON_VALUES.map(lambda v: json.dumps(v).encode()))
    if media is None:
        return st.one_of(st.none(), hostile)
    valid = _schema_values(media["schema"]).map(lambda v: json.dumps(v).encode())
    return st.one_of(valid, valid, hostile, st.binary(max_size=64))


@dataclass
class Request:
    """One drawn request."""

    url: URL
    body: bytes | None


@st.composite
def requests(draw: st.DrawFn, target: Target, base: URL) -> Request:
    path = target.path
    query: list[str] = []
    for param in target.operation.get("parameters", []):
        if param["in"] == "path":
            value = draw(_parameter(param["schema"]))
            path = path.replace("{" + param["name"] + "}", _encode(value))
        elif param["in"] == "query" and draw(st.booleans()):
            query.append(f"{param['name']}={_encode(draw(_parameter(param['schema'])))}")
    if draw(st.booleans()):
        query.append(f"{_encode(draw(TEXT))}={_encode(draw(TEXT))}")  # an undeclared one
    raw = str(base).rstrip("/") + path + ("?" + "&".join(query) if query else "")
    return Request(URL(raw, encoded=True), draw(_body(target.operation)))


class Harness:
    """The app on 127.0.0.1 in a thread of its own, and one signed-in client per role."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        # A copy of the flows: a save the fuzzer got through could not touch the repository.
        flows = tmp_path / "flows"
        shutil.copytree(REPO / "flows", flows)
        shutil.copytree(REPO / "prompts", tmp_path / "prompts")
        limiter = LoginLimiter(_LOOSE, _LOOSE)
        self._context = running_app(tmp_path, flows, limiter)
        self.app: WebFixture = self.run(self._context.__aenter__())
        self.clients: dict[Role | None, tuple[aiohttp.ClientSession, str]] = {}
        for role in (None, *Role):
            self.run(self.sign_in(role))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    async def sign_in(self, role: Role | None) -> None:
        if role in self.clients:
            await self.clients[role][0].close()
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        if role is None:
            csrf = await self.app.csrf(http)
        else:
            status, body = await self.app.login(http, ROLE_USER[role])
            assert status == 200, body
            csrf = body["csrf_token"]
        self.clients[role] = (http, csrf)

    async def send(self, target: Target, request: Request) -> tuple[int, str, str]:
        http, csrf = self.clients[target.role]
        headers = {"X-CSRF-Token": csrf}
        if request.body is not None:
            headers["Content-Type"] = "application/json"
        async with http.request(
            target.method, request.url, data=request.body, headers=headers, allow_redirects=False
        ) as r:
            text = await r.text(errors="replace")
            answer = (r.status, r.content_type, text)
        if target.role is not None and answer[0] == 401:
            await self.sign_in(target.role)  # the fuzzer signed itself out: sign in again
        return answer

    def close(self) -> None:
        for http, _ in self.clients.values():
            self.run(http.close())
        self.run(self._context.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    running = Harness(tmp_path_factory.mktemp("fuzz"))
    try:
        yield running
    finally:
        running.close()


def test_the_fuzzed_document_is_the_one_the_server_serves(harness: Harness) -> None:
    async def served() -> Any:
        http, _ = harness.clients[None]
        async with http.get(harness.app.url("/api/openapi.json")) as r:
            return await r.json()

    assert harness.run(served()) == DOCUMENT
    assert {(t.method, t.path) for t in TARGETS} == {(s.method, s.path) for s in ROUTES}


@pytest.mark.parametrize("target", TARGETS, ids=str)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_input_makes_a_route_fail_with_a_server_error(
    harness: Harness, target: Target, data: st.DataObject
) -> None:
    request = data.draw(requests(target, URL(harness.app.url("/"))), label="request")
    status, content_type, text = harness.run(harness.send(target, request))
    assert status < 500, f"{target}: {request.url} -> {status} {text[:300]}"
    if status == 400 and content_type == "application/json":
        answer = json.loads(text)
        assert answer.get("error") and answer.get("message"), answer  # says what was wrong
