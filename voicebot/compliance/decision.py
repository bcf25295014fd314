"""What the gate answers: allowed or not, the reasons as stable codes, and when to come back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Why a call is not allowed; codes are stable (CLI JSON, audit rows, reports)."""

    WINDOW = "window"
    """Outside the calling hours in (one of) the callee's zones."""
    HOLIDAY = "holiday"
    """A public holiday, weekend or listed date the purpose must skip."""
    CALENDAR_UNKNOWN = "calendar_unknown"
    """The official calendar has no data for the date: fail closed."""
    CAP_DAY = "cap_day"
    """The number already had its calls for the callee's local day."""
    CAP_WEEK = "cap_week"
    """The number already had its calls for the last 7 local days."""
    MIN_GAP = "min_gap"
    """Too soon after the previous attempt."""
    FROZEN = "frozen"
    """The number is frozen (short or rejected calls, or a confirmed refusal)."""
    DNC = "dnc"
    """The number is on the do-not-call list (global or this campaign's)."""
    UNKNOWN_ZONE = "unknown_zone"
    """The number's time zone is unknown, so its local time cannot be checked."""
    INVALID_NUMBER = "invalid_number"
    """Not a valid international number; nothing was written."""


@dataclass(frozen=True)
class Decision:
    """The gate's answer for one number at one instant.

    Attributes:
        allowed: the call may be placed now.
        reasons: every rule that blocks it now (empty when allowed).
        not_before: the earliest instant the call could be allowed given what is known now
            (window opens, holiday ends, cap resets, freeze ends), in the callee's zone; None
            when allowed, or when it never will be (do-not-call) or cannot be known.
        attempt_id: the reservation made for this call (``check_and_reserve`` only).
        number_masked: the callee's number as logs may show it.
        policy_version: the policy that decided.
        detail: human-readable notes (e.g. which calendar has no data).
    """

    allowed: bool
    reasons: tuple[Reason, ...]
    not_before: dt.datetime | None
    attempt_id: int | None = None
    number_masked: str = ""
    policy_version: str = ""
    detail: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON form: ``allowed``, ``reasons`` (codes), ``not_before`` (ISO 8601)."""
        return {
            "allowed": self.allowed,
            "reasons": [r.value for r in self.reasons],
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "attempt_id": self.attempt_id,
            "number": self.number_masked,
            "policy_version": self.policy_version,
            "detail": list(self.detail),
        }
