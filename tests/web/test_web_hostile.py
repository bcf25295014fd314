"""Hostile requests get a 400 that says what is wrong, never a 500: non-ASCII digits and 64-bit
overflows in ids and paging, JSON nested 20,000 deep, numbers of 5,000 digits, text no database
can store, an unknown charset (before sign-in too). And the headers a probe sees: HSTS over TLS,
no software versions in ``Server``."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.web_support import WebFixture, running_app

DEEP = b"[" * 20_000 + b"]" * 20_000
LONG_NUMBER = b'{"name": "agent1", "password": ' + b"7" * 5000 + b"}"


async def _answer(
    app: WebFixture,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    *,
    data: bytes | None = None,
    csrf: str = "",
    content_type: str = "application/json",
) -> tuple[int, Any]:
    headers = {"Content-Type": content_type}
    if csrf:
        headers["X-CSRF-Token"] = csrf
    async with http.request(method, app.url(path), data=data, headers=headers) as r:
        body = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, body


def _bad(status: int, body: Any, reason: str, case: object = "") -> None:
    assert status == 400, (case, status, body)
    assert body["error"] == "validation", (case, body)
    assert reason in body["message"], (case, body)


BAD_PATHS = [
    ("/api/calls/%C2%B2/transcript", "attempt"),  # SUPERSCRIPT TWO: a digit, not ASCII
    ("/api/calls/%D9%A3/qa", "attempt"),  # ARABIC-INDIC THREE (was read as attempt 3)
    ("/api/calls/99999999999999999999/recording", "attempt"),  # past 64 bits
    ("/api/calls/" + "9" * 5000 + "/qa", "attempt"),
    ("/api/audit?before=99999999999999999999", "before"),
    ("/api/audit?before=-99999999999999999999", "before"),
    ("/api/audit?limit=%C2%B2", "limit"),
]
BAD_SIGN_INS = [
    (DEEP, "application/json", "nested"),
    (LONG_NUMBER, "application/json", "digits"),
    (b'{"name": "agent1\\u0000", "password": "x"}', "application/json", "NUL"),
    (b'{"name": "\\ud800", "password": "a long test passphrase"}', "application/json",
     "surrogate"),
    (b'{"name": "agent1", "password": NaN}', "application/json", "JSON"),
    (b'{"name": "agent1", "password": "x"}', "application/json; charset=x-unknown", "charset"),
    (b"\xff\xfe{}", "application/json", "UTF-8"),
]  # fmt: skip


async def test_bad_ids_and_paging_are_400_with_the_field(tmp_path: Path, repo_root: Path) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        await app.login(http, "auditor1")
        for path, reason in BAD_PATHS:
            status, body = await _answer(app, http, "GET", path)
            _bad(status, body, reason, path[:60])


async def test_hostile_sign_in_bodies_are_400_before_login(tmp_path: Path, repo_root: Path) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        csrf = await app.csrf(http)
        for data, content_type, reason in BAD_SIGN_INS:
            status, body = await _answer(
                app, http, "POST", "/api/session", data=data, csrf=csrf, content_type=content_type
            )
            _bad(status, body, reason, data[:60])


async def test_hostile_bodies_are_400_for_signed_in_users_too(
    tmp_path: Path, repo_root: Path
) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        _, login = await app.login(http, "agent1")
        for data, reason in ((DEEP, "nested"), (b'{"status": 1' + b"0" * 5000 + b"}", "digits")):
            status, body = await _answer(
                app, http, "PUT", "/api/agent/presence", data=data, csrf=login["csrf_token"]
            )
            _bad(status, body, reason)
        status, body = await _answer(app, http, "GET", "/api/agent/handoffs?since=%C2%B2")
        _bad(status, body, "since")


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


async def test_https_answers_carry_hsts_and_no_software_versions(
    tmp_path: Path, repo_root: Path
) -> None:
    tls = _self_signed(tmp_path)
    async with running_app(tmp_path, repo_root / "flows", tls=tls) as app, app.client() as http:
        assert app.url("/").startswith("https://")
        for path in ("/login", "/api/session", "/api/me", "/no/such/page"):
            async with http.get(app.url(path), ssl=False) as r:
                hsts = r.headers.get("Strict-Transport-Security", "")
                assert hsts.startswith("max-age=") and int(hsts.split("=")[1].split(";")[0]) >= (
                    180 * 86400
                ), (path, hsts)
                server = r.headers.get("Server", "")
                assert "Python" not in server and "aiohttp" not in server, (path, server)


async def test_plain_http_answers_have_no_hsts_and_no_software_versions(
    tmp_path: Path, repo_root: Path
) -> None:
    async with running_app(tmp_path, repo_root / "flows") as app, app.client() as http:
        for path in ("/login", "/api/me", "/no/such/page"):
            async with http.get(app.url(path)) as r:
                assert "Strict-Transport-Security" not in r.headers  # meaningless over HTTP
                server = r.headers.get("Server", "")
                assert "Python" not in server and "aiohttp" not in server, (path, server)


async def test_a_malformed_request_is_refused_without_software_versions(
    tmp_path: Path, repo_root: Path
) -> None:
    """aiohttp answers these before the app sees them: its default banner must be ours too."""
    async with running_app(tmp_path, repo_root / "flows") as app:
        for raw in (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", b"GARBAGE\r\n\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", app.server.port)
            try:
                writer.write(raw)
                await writer.drain()
                answer = await asyncio.wait_for(reader.read(4096), 10)
            finally:
                writer.close()
            head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            assert head.startswith("HTTP/1.") and " 400 " in head.splitlines()[0], head
            server = [line for line in head.splitlines() if line.lower().startswith("server:")]
            assert server == ["Server: voicebot"], head


@pytest.mark.integration
async def test_hostile_requests_are_400_over_postgresql_too(
    pg_url: str, tmp_path: Path, repo_root: Path
) -> None:
    """PostgreSQL refuses NUL in text and integers past 64 bits where SQLite did not mind:
    these must be stopped before they reach it."""
    async with running_app(tmp_path, repo_root / "flows", db_url=pg_url) as app:
        async with app.client() as http:
            csrf = await app.csrf(http)
            for data, reason in (
                (b'{"name": "agent1\\u0000", "password": "a long test passphrase"}', "NUL"),
                (DEEP, "nested"),
                (LONG_NUMBER, "digits"),
            ):
                status, body = await _answer(
                    app, http, "POST", "/api/session", data=data, csrf=csrf
                )
                _bad(status, body, reason)
        async with app.client() as http:
            await app.login(http, "auditor1")
            for path, reason in (
                ("/api/calls/99999999999999999999/qa", "attempt"),
                ("/api/audit?before=9223372036854775808", "before"),
                ("/api/campaigns/a%00b/calls", "NUL"),
            ):
                status, body = await _answer(app, http, "GET", path)
                _bad(status, body, reason)
