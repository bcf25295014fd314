"""Credentials and limits on their own: argon2 hashing, TOTP, the login limiter, session keys."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from voicebot.store import Store, open_store
from voicebot.store.login_attempts import IDLE_SWEEP, LOGIN_ATTEMPTS, key_hash
from voicebot.web.auth import (
    Passwords,
    WeakPassword,
    load_or_create_session_key,
    new_totp_secret,
    totp_uri,
    verify_totp,
)
from voicebot.web.metrics import is_loopback
from voicebot.web.ratelimit import LimitRule, LoginLimiter

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def test_passwords_are_argon2id_and_verify_only_the_right_one() -> None:
    passwords = Passwords.fast_for_tests()
    hashed = passwords.hash("a long passphrase")
    assert hashed.startswith("$argon2id$")
    assert "a long passphrase" not in hashed
    assert passwords.verify(hashed, "a long passphrase").ok
    assert not passwords.verify(hashed, "a long passphrasE").ok
    assert not passwords.verify(None, "a long passphrase").ok  # unknown user
    assert not passwords.verify("not-a-hash", "a long passphrase").ok


def test_cheap_hashes_are_flagged_for_rehash_under_the_default_parameters() -> None:
    cheap = Passwords.fast_for_tests().hash("a long passphrase")
    assert Passwords().verify(cheap, "a long passphrase").needs_rehash


@pytest.mark.parametrize(("password", "user"), [("short", ""), ("Operator-01", "operator-01")])
def test_weak_passwords_are_refused_with_the_reason(password: str, user: str) -> None:
    with pytest.raises(WeakPassword, match=r"too short|user name"):
        Passwords.fast_for_tests().hash(password, user=user)


def test_totp_accepts_the_current_code_and_one_step_of_drift_only() -> None:
    secret = new_totp_secret()
    totp = pyotp.TOTP(secret)
    assert verify_totp(secret, totp.at(T0), T0)
    assert verify_totp(secret, totp.at(T0 - dt.timedelta(seconds=30)), T0)
    assert not verify_totp(secret, totp.at(T0 - dt.timedelta(minutes=5)), T0)
    assert not verify_totp(secret, "abcdef", T0)
    assert totp_uri("root", secret).startswith("otpauth://totp/voicebot:root?secret=")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "limits.db"))
    yield opened
    await opened.close()


async def test_account_lockout_grows_and_success_clears_it(store: Store) -> None:
    rule = LimitRule(3, dt.timedelta(minutes=10), dt.timedelta(minutes=1))
    limiter = LoginLimiter(rule, LimitRule(100, dt.timedelta(minutes=10), dt.timedelta(hours=1)))
    at = T0
    assert await limiter.failed(store, "Ann", "127.0.0.1", at) == []
    assert await limiter.failed(store, "ann", "127.0.0.2", at) == []  # names are case-insensitive
    started = await limiter.failed(store, "ann", "127.0.0.3", at)
    assert [(s.scope, s.until) for s in started] == [("account", at + dt.timedelta(minutes=1))]
    lock = await limiter.check(store, "ann", "127.0.0.9", at + dt.timedelta(seconds=30))
    assert lock is not None and lock.retry_after(at + dt.timedelta(seconds=30)) == 30
    at += dt.timedelta(minutes=2)
    assert await limiter.check(store, "ann", "127.0.0.1", at) is None
    for _ in range(3):
        started = await limiter.failed(store, "ann", "127.0.0.1", at)
    assert started[0].until == at + dt.timedelta(minutes=2)  # backoff doubled
    await limiter.passed(store, "ann")
    assert await limiter.check(store, "ann", "127.0.0.1", at) is None


async def test_an_address_spraying_many_accounts_is_locked(store: Store) -> None:
    limiter = LoginLimiter(
        LimitRule(100, dt.timedelta(minutes=10), dt.timedelta(minutes=1)),
        LimitRule(4, dt.timedelta(minutes=10), dt.timedelta(minutes=5)),
    )
    for i in range(4):
        started = await limiter.failed(store, f"user{i}", "127.0.0.7", T0)
    assert [s.scope for s in started] == ["address"]
    lock = await limiter.check(store, "someone-else", "127.0.0.7", T0)
    assert lock is not None and lock.scope == "address"
    assert await limiter.check(store, "someone-else", "127.0.0.8", T0) is None


async def test_the_store_keeps_no_name_or_address_and_forgets_idle_keys(store: Store) -> None:
    limiter = LoginLimiter()
    await limiter.failed(store, "ann", "127.0.0.5", T0)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(LOGIN_ATTEMPTS))).all()
    assert len(rows) == 2 and not any("ann" in str(r) or "127.0.0.5" in str(r) for r in rows)
    await limiter.failed(store, "bob", "127.0.0.6", T0 + IDLE_SWEEP + dt.timedelta(seconds=1))
    async with store.engine.connect() as conn:
        kept = (await conn.execute(select(LOGIN_ATTEMPTS.c.key_hash))).scalars().all()
    assert sorted(kept) == sorted([key_hash("account", "bob"), key_hash("address", "127.0.0.6")])


def test_session_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "session.key"
    key = load_or_create_session_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_session_key(path) == key


def test_metrics_are_only_for_loopback_clients() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.8.0.1") and is_loopback("::1")
    assert not is_loopback("192.0.2.10") and not is_loopback(None) and not is_loopback("x")
