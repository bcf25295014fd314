"""Shared by the web tests: a real app on a real loopback server over a SQLite store, one user
per role, a controllable clock and helpers to sign in (admins with a real TOTP code)."""

from __future__ import annotations

import datetime as dt
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pyotp
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet

from voicebot.handoff import AgentDesk, HandoffOffer, MemoryHandoffQueue
from voicebot.privacy.audit_events import vault_hook
from voicebot.privacy.vault.keys import Keyring, MasterKey, load_or_create_keyring
from voicebot.privacy.vault.vault import Vault
from voicebot.store import Store, open_store
from voicebot.store.users import Role, add_user
from voicebot.web.app import WebConfig, create_app
from voicebot.web.auth import Passwords, new_totp_secret
from voicebot.web.ratelimit import LoginLimiter

START = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
TEST_NUMBER = "+8613800138000"  # reserved test number; its digits must never reach an agent
PASSWORD = "a long test passphrase"


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class WebFixture:
    """A running server and what a test needs to drive it."""

    server: TestServer
    store: Store
    clock: Clock
    queue: MemoryHandoffQueue
    vault: Vault
    keyring: Keyring
    secrets: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    def totp(self, name: str) -> str:
        return pyotp.TOTP(self.secrets[name]).at(self.clock())

    @asynccontextmanager
    async def client(self) -> AsyncIterator[aiohttp.ClientSession]:
        """A browser-like client: its own cookie jar (loopback cookies allowed)."""
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            yield http

    async def csrf(self, http: aiohttp.ClientSession) -> str:
        async with http.get(self.url("/api/session")) as r:
            token = (await r.json())["csrf_token"]
        assert isinstance(token, str)
        return token

    async def login(
        self, http: aiohttp.ClientSession, name: str, password: str = PASSWORD, **extra: Any
    ) -> tuple[int, dict[str, Any]]:
        """POST /api/session (with the CSRF token); returns status and JSON."""
        body: dict[str, Any] = {"name": name, "password": password, **extra}
        if name in self.secrets and "totp" not in extra:
            self.clock.advance(30)  # each TOTP code works once: sign in with the next one
            body["totp"] = self.totp(name)
        token = await self.csrf(http)
        async with http.post(
            self.url("/api/session"), json=body, headers={"X-CSRF-Token": token}
        ) as r:
            return r.status, await r.json()


USERS: dict[str, frozenset[Role]] = {
    "admin1": frozenset({Role.ADMIN}),
    "designer1": frozenset({Role.DESIGNER}),
    "agent1": frozenset({Role.AGENT}),
    "auditor1": frozenset({Role.AUDITOR}),
}
ROLE_USER = {Role.ADMIN: "admin1", Role.DESIGNER: "designer1", Role.AGENT: "agent1",
             Role.AUDITOR: "auditor1"}  # fmt: skip


@asynccontextmanager
async def running_app(
    tmp_path: Path,
    flows_dir: Path,
    limiter: LoginLimiter | None = None,
    *,
    db_url: str | None = None,
    session_key: bytes | None = None,
    seeded_by: WebFixture | None = None,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[WebFixture]:
    """Start the app on 127.0.0.1 with one user per role, one waiting call and a vault whose
    reads are audited in the app's store.

    ``db_url`` and ``session_key`` let a second app (another "process") share the first one's
    store and cookies; ``seeded_by`` is that first app (its users exist already, with its TOTP
    secrets and clock). ``tls`` serves HTTPS with that context.
    """
    # The store's numbers are keyed as `voicebot` commands key them (the configured key file), the
    # same for a second app on the same store; the vault gets a master key of its own.
    keyring = seeded_by.keyring if seeded_by is not None else load_or_create_keyring()[0]
    store = await open_store(db_url or str(tmp_path / "web.db"), keyring=keyring)
    passwords = Passwords.fast_for_tests()
    clock = seeded_by.clock if seeded_by is not None else Clock()
    queue = MemoryHandoffQueue()
    secrets: dict[str, str] = dict(seeded_by.secrets) if seeded_by is not None else {}
    async with store.write() as conn:
        for name, roles in USERS.items() if seeded_by is None else ():
            secret = new_totp_secret() if Role.ADMIN in roles else None
            if secret:
                secrets[name] = secret
            await add_user(
                conn, name=name, password_hash=passwords.hash(PASSWORD), roles=roles,
                totp_secret=secret, now=clock(),
            )  # fmt: skip
    await queue.offer(
        HandoffOffer(
            id="h1", number=TEST_NUMBER, flow="marketing_offer", queue="sales",
            reason="asked for a person", created_at=clock(), campaign="winter",
            summary="interested in the winter plan", context={"plan": "winter"},
        )
    )  # fmt: skip
    master = MasterKey.generate()
    vault = Vault(tmp_path / "vault", Keyring(master), vault_hook(store))
    config = WebConfig(
        session_key=session_key or Fernet.generate_key(),
        tls=tls is not None,
        flows_dir=flows_dir,
        passwords=passwords,
        limiter=limiter or LoginLimiter(),
        desk=AgentDesk(queue, clock=clock),
        clock=clock,
        vault=vault,
    )
    server = TestServer(create_app(store, config), host="127.0.0.1")
    saved_key = os.environ.get("VOICEBOT_MASTER_KEY")
    os.environ["VOICEBOT_MASTER_KEY"] = master.to_base64()  # erasure needs one
    await server.start_server(ssl=tls)
    try:
        yield WebFixture(server, store, clock, queue, vault, keyring, secrets)
    finally:
        await server.close()
        await store.close()
        if saved_key is None:
            os.environ.pop("VOICEBOT_MASTER_KEY", None)
        else:
            os.environ["VOICEBOT_MASTER_KEY"] = saved_key
