"""Login rate limiting: per account and per client address, with lockout and growing backoff.

Password guessing is slowed twice: an account locks after a few consecutive failures (from any
address), and an address locks after more failures across any accounts (spraying). Each new
lockout of the same key lasts twice as long as the last, up to a ceiling; a success clears the
account's record. State is in memory, per process: a restart is rare next to the lockout
periods, but several ``voicebot serve`` processes on one store each count their own failures, so
a guesser who spreads over N of them gets N times the attempts (sessions and TOTP codes, by
contrast, are kept in the store and hold across processes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LimitRule:
    """How many failures within ``window`` lock a key, and for how long at first."""

    max_failures: int
    window: dt.timedelta
    first_lockout: dt.timedelta
    max_lockout: dt.timedelta = dt.timedelta(hours=1)


ACCOUNT_RULE = LimitRule(5, dt.timedelta(minutes=15), dt.timedelta(minutes=1))
ADDRESS_RULE = LimitRule(20, dt.timedelta(minutes=15), dt.timedelta(minutes=5))


@dataclass
class _Record:
    failures: list[dt.datetime] = field(default_factory=list)
    locked_until: dt.datetime | None = None
    lockouts: int = 0


@dataclass(frozen=True)
class Lockout:
    """A refusal: which key is locked (``account`` or ``address``) and until when."""

    scope: str
    until: dt.datetime

    def retry_after(self, now: dt.datetime) -> int:
        """Whole seconds until a new attempt may be made (at least 1)."""
        return max(1, int((self.until - now).total_seconds() + 0.999))


class LoginLimiter:
    """Tracks failures: :meth:`check` before verifying, then :meth:`failed` or :meth:`passed`."""

    def __init__(
        self, account_rule: LimitRule = ACCOUNT_RULE, address_rule: LimitRule = ADDRESS_RULE
    ) -> None:
        self._rules = {"account": account_rule, "address": address_rule}
        self._records: dict[tuple[str, str], _Record] = {}

    def check(self, account: str, address: str, now: dt.datetime) -> Lockout | None:
        """The lockout in force for this account or address, if any."""
        for scope, key in (("account", account.lower()), ("address", address)):
            record = self._records.get((scope, key))
            if record and record.locked_until and record.locked_until > now:
                return Lockout(scope, record.locked_until)
        return None

    def failed(self, account: str, address: str, now: dt.datetime) -> list[Lockout]:
        """Count a failure; returns the lockouts this failure started (to audit them)."""
        started: list[Lockout] = []
        for scope, key in (("account", account.lower()), ("address", address)):
            rule = self._rules[scope]
            record = self._records.setdefault((scope, key), _Record())
            record.failures = [t for t in record.failures if now - t < rule.window] + [now]
            if len(record.failures) >= rule.max_failures:
                period = min(rule.first_lockout * (2**record.lockouts), rule.max_lockout)
                record.lockouts += 1
                record.locked_until = now + period
                record.failures = []
                started.append(Lockout(scope, record.locked_until))
        return started

    def passed(self, account: str) -> None:
        """A successful sign-in clears the account's failures and backoff (not the address's)."""
        self._records.pop(("account", account.lower()), None)
