"""Login rate limiting: per account and per client address, with lockout and growing backoff.

Password guessing is slowed twice: an account locks after a few consecutive failures (from any
address), and an address locks after more failures across any accounts (spraying). Each new
lockout of the same key lasts twice as long as the last, up to a ceiling; a success clears the
account's record. The records live in the store (:mod:`voicebot.store.login_attempts`), like
sessions and spent TOTP codes, so every ``voicebot serve`` process sharing it counts the same
failures: spreading guesses over N servers buys no extra attempts. Each key is updated under a
per-key lock (SQLite's write lock, a PostgreSQL advisory lock), so failures arriving at two
processes at once are both counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from voicebot.store import Store
from voicebot.store.login_attempts import AttemptRecord, forget, key_hash, read_record, write_record


@dataclass(frozen=True)
class LimitRule:
    """How many failures within ``window`` lock a key, and for how long at first."""

    max_failures: int
    window: dt.timedelta
    first_lockout: dt.timedelta
    max_lockout: dt.timedelta = dt.timedelta(hours=1)


ACCOUNT_RULE = LimitRule(5, dt.timedelta(minutes=15), dt.timedelta(minutes=1))
ADDRESS_RULE = LimitRule(20, dt.timedelta(minutes=15), dt.timedelta(minutes=5))


@dataclass(frozen=True)
class Lockout:
    """A refusal: which key is locked (``account`` or ``address``) and until when."""

    scope: str
    until: dt.datetime

    def retry_after(self, now: dt.datetime) -> int:
        """Whole seconds until a new attempt may be made (at least 1)."""
        return max(1, int((self.until - now).total_seconds() + 0.999))


class LoginLimiter:
    """Tracks failures in the store: :meth:`check` before verifying, then :meth:`failed` or
    :meth:`passed`. Holds only the rules, so one limiter may serve any store."""

    def __init__(
        self, account_rule: LimitRule = ACCOUNT_RULE, address_rule: LimitRule = ADDRESS_RULE
    ) -> None:
        self._rules = {"account": account_rule, "address": address_rule}

    async def check(
        self, store: Store, account: str, address: str, now: dt.datetime
    ) -> Lockout | None:
        """The lockout in force for this account or address, if any."""
        async with store.engine.connect() as conn:
            for scope, key in _keys(account, address):
                record = await read_record(conn, key_hash(scope, key))
                if record and record.locked_until and record.locked_until > now:
                    return Lockout(scope, record.locked_until)
        return None

    async def failed(
        self, store: Store, account: str, address: str, now: dt.datetime
    ) -> list[Lockout]:
        """Count a failure; returns the lockouts this failure started (to audit them)."""
        started: list[Lockout] = []
        async with store.write() as conn:
            for scope, key in _keys(account, address):
                digest = key_hash(scope, key)
                await store.lock_number(conn, f"login:{digest}")
                stored = await read_record(conn, digest)
                record = stored or AttemptRecord()
                rule = self._rules[scope]
                record.failures = [t for t in record.failures if now - t < rule.window] + [now]
                if len(record.failures) >= rule.max_failures:
                    period = min(rule.first_lockout * (2**record.lockouts), rule.max_lockout)
                    record.lockouts += 1
                    record.locked_until = now + period
                    record.failures = []
                    started.append(Lockout(scope, record.locked_until))
                await write_record(conn, digest, record, now, new=stored is None)
        return started

    async def passed(self, store: Store, account: str) -> None:
        """A successful sign-in clears the account's failures and backoff (not the address's)."""
        async with store.write() as conn:
            await forget(conn, key_hash("account", account.lower()))


def _keys(account: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return (("account", account.lower()), ("address", address))
