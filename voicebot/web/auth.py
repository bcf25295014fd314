"""Credentials and sessions: argon2 password hashes, TOTP, encrypted session cookies, CSRF tokens.

Why these choices: argon2id (argon2-cffi) is memory-hard, so a stolen table is slow to crack;
sessions live in an encrypted, authenticated cookie (aiohttp-session over Fernet) marked
``HttpOnly`` and ``SameSite=Strict`` and ``Secure`` when served over TLS, so a script in the page
cannot read it; the cookie also carries a session token that must name an open row of the store's
session table (:mod:`voicebot.store.web_sessions`), so the server can end a session for good
(sign-out, password or role change, removal) even if the cookie was copied; every
state-changing request must echo the session's synchronizer token in ``X-CSRF-Token``; admins
need a TOTP code (pyotp) as well, each code spent once in the store
(:func:`voicebot.store.users.claim_totp_step`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import argon2
import pyotp
from aiohttp_session import Session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

SESSION_COOKIE = "voicebot_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_MAX_AGE_S = 8 * 3600  # one working shift
MIN_PASSWORD_LENGTH = 10
TOTP_ISSUER = "voicebot"

# Session fields.
_UID = "uid"
_AUTH_AT = "auth_at"
_CSRF = "csrf"
_TOKEN = "sid"


class WeakPassword(ValueError):
    """A password refused before hashing (too short, or the user's own name)."""


@dataclass(frozen=True)
class Verified:
    """Result of a password check: whether it matched, and whether the hash wants upgrading."""

    ok: bool
    needs_rehash: bool = False


class Passwords:
    """Argon2id hashing with the library's recommended parameters (cheaper ones for tests)."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()
        # Verified against when the user does not exist, so both paths cost the same time.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    @classmethod
    def fast_for_tests(cls) -> Passwords:
        """Real argon2id with small memory and time costs, for test suites."""
        return cls(argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))

    def hash(self, password: str, *, user: str = "") -> str:
        """Hash a new password after checking it is acceptable.

        Raises:
            WeakPassword: shorter than :data:`MIN_PASSWORD_LENGTH` or equal to the user name.
        """
        if len(password) < MIN_PASSWORD_LENGTH:
            raise WeakPassword(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
        if user and password.strip().lower() == user.lower():
            raise WeakPassword("password must not be the user name")
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> Verified:
        """Check ``password`` against a stored hash (``None``: unknown user, always fails)."""
        try:
            self._hasher.verify(password_hash or self._dummy, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return Verified(ok=False)
        if password_hash is None:
            return Verified(ok=False)
        return Verified(ok=True, needs_rehash=self._hasher.check_needs_rehash(password_hash))


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def totp_uri(name: str, secret: str) -> str:
    """The ``otpauth://`` URI an authenticator app enrols from (shown once, at creation)."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=TOTP_ISSUER)


def totp_step(secret: str, code: str, at: dt.datetime) -> int | None:
    """The 30 s time step whose TOTP ``code`` is, within one step of ``at``; else ``None``."""
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(at)
    for step in (now_step, now_step - 1, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(secret: str, code: str, at: dt.datetime) -> bool:
    """Whether ``code`` is the TOTP for ``at``, allowing one 30 s step of clock drift."""
    return totp_step(secret, code, at) is not None


def session_storage(key: bytes, *, secure: bool) -> EncryptedCookieStorage:
    """The cookie storage: encrypted (Fernet), HttpOnly, SameSite=Strict, Secure under TLS."""
    return EncryptedCookieStorage(
        Fernet(key),
        cookie_name=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="Strict",
        secure=secure,
    )


def load_or_create_session_key(path: Path) -> bytes:
    """The Fernet key in ``path``, created (mode 0600) on first use so sessions survive restarts."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def csrf_token(session: Session) -> str:
    """The session's synchronizer token, created on first use."""
    token = session.get(_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_CSRF] = token
    return token


def csrf_ok(session: Session, presented: str | None) -> bool:
    """Whether the token sent with a state-changing request is the session's."""
    token = session.get(_CSRF)
    if not isinstance(token, str) or not presented:
        return False
    return hmac.compare_digest(token.encode(), presented.encode())


@dataclass(frozen=True)
class Carried:
    """What a session cookie claims: the user, when they signed in, and the server-side token."""

    user_id: int
    auth_at: dt.datetime
    token: str


def start_session(session: Session, user_id: int, at: dt.datetime, token: str) -> str:
    """Fill a *new* session (fixation-safe) for a signed-in user; returns its CSRF token.

    ``token`` names the session's row in the store (see :mod:`voicebot.store.web_sessions`).
    """
    session[_UID] = user_id
    session[_AUTH_AT] = at.timestamp()
    session[_TOKEN] = token
    return csrf_token(session)


def session_user(session: Session) -> Carried | None:
    """What a session carries, if it is a signed-in one (a cookie from before server-side
    sessions carries no token, and so is no longer signed in)."""
    uid, auth_at, token = session.get(_UID), session.get(_AUTH_AT), session.get(_TOKEN)
    if not isinstance(uid, int) or not isinstance(auth_at, int | float):
        return None
    if not isinstance(token, str) or not token:
        return None
    return Carried(uid, dt.datetime.fromtimestamp(auth_at, dt.UTC), token)
