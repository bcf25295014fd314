"""When may this number be called: the gate's rules as pure functions of time and history.

No database here. Each rule looks at one candidate instant and says either "fine" or the next
instant at which it could be fine (or never, or unknown). :func:`evaluate` collects the rules that
block *now* (the reasons) and then walks forward, jumping to the latest of those instants, until
every rule is satisfied at once: that instant is ``not_before``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from voicebot.compliance.calendars import DayKind, HolidayCalendar
from voicebot.compliance.decision import Reason
from voicebot.compliance.policy import PurposePolicy
from voicebot.compliance.zones import Callee

WEEK_DAYS = 7
MAX_STEPS = 2000
HORIZON = dt.timedelta(days=400)


class _Never:
    """A rule that will not lift with time alone (do-not-call, unknown calendar)."""


NEVER = _Never()
Verdict = dt.datetime | _Never | None
"""None: satisfied at the instant; a datetime: not before then; NEVER: not by waiting."""


@dataclass(frozen=True)
class History:
    """What the store knows about a number that the rules need, read in the gate's transaction.

    Attributes:
        attempt_days: the local day (home zone) of each counting attempt in the last 7 days.
        last_attempt: the latest counting attempt's reservation instant.
        frozen_until: the end of the longest active freeze.
        dnc: an applicable do-not-call entry exists.
    """

    attempt_days: tuple[dt.date, ...] = ()
    last_attempt: dt.datetime | None = None
    frozen_until: dt.datetime | None = None
    dnc: bool = False


@dataclass(frozen=True)
class Evaluation:
    """The rules' verdict: blocking reasons now, when to come back, and notes for people."""

    reasons: tuple[Reason, ...]
    not_before: dt.datetime | None
    detail: tuple[str, ...] = ()


def evaluate(
    callee: Callee,
    rules: PurposePolicy,
    calendar: HolidayCalendar,
    history: History,
    now: dt.datetime,
) -> Evaluation:
    """Apply every rule to ``callee`` at ``now`` (aware) and find ``not_before`` if blocked."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    home = callee.home_zone
    if home is None:
        return Evaluation(
            (Reason.UNKNOWN_ZONE,), None, (f"no time zone known for {callee.masked}",)
        )
    notes: list[str] = []
    checks: list[tuple[Reason, Callable[[dt.datetime], Verdict]]] = [
        (Reason.DNC, lambda t: NEVER if history.dnc else None),
        (Reason.FROZEN, lambda t: _until(t, history.frozen_until)),
        (Reason.MIN_GAP, lambda t: _min_gap(t, history.last_attempt, rules.min_gap_minutes)),
        (Reason.CAP_DAY, lambda t: _cap_day(t, home, history.attempt_days, rules.caps.per_day)),
        (Reason.CAP_WEEK, lambda t: _cap_week(t, home, history.attempt_days, rules.caps.per_week)),
        (Reason.WINDOW, lambda t: _window(t, callee.zones, rules)),
        (Reason.HOLIDAY, lambda t: _holiday(t, callee, rules, calendar, None)),
        (Reason.CALENDAR_UNKNOWN, lambda t: _holiday(t, callee, rules, calendar, notes)),
    ]
    reasons = tuple(reason for reason, check in checks if check(now) is not None)
    if not reasons:
        return Evaluation((), None)
    not_before = _walk(now, [check for _, check in checks])
    return Evaluation(reasons, not_before.astimezone(home) if not_before else None, tuple(notes))


def _walk(now: dt.datetime, checks: list[Callable[[dt.datetime], Verdict]]) -> dt.datetime | None:
    t = now
    for _ in range(MAX_STEPS):
        verdicts = [check(t) for check in checks]
        if any(isinstance(v, _Never) for v in verdicts):
            return None
        later = [v for v in verdicts if isinstance(v, dt.datetime)]
        if not later:
            return t
        t = max(later)
        if t - now > HORIZON:
            return None
    return None


def _until(t: dt.datetime, end: dt.datetime | None) -> Verdict:
    return end if end is not None and t < end else None


def _min_gap(t: dt.datetime, last: dt.datetime | None, minutes: int) -> Verdict:
    if last is None or minutes <= 0:
        return None
    return _until(t, last + dt.timedelta(minutes=minutes))


def _midnight_after(day: dt.date, zone: ZoneInfo, days: int = 1) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(0), tzinfo=zone)


def _cap_day(t: dt.datetime, zone: ZoneInfo, days: tuple[dt.date, ...], cap: int) -> Verdict:
    today = t.astimezone(zone).date()
    if cap <= 0:
        return NEVER
    if sum(1 for d in days if d == today) >= cap:
        return _midnight_after(today, zone)
    return None


def _cap_week(t: dt.datetime, zone: ZoneInfo, days: tuple[dt.date, ...], cap: int) -> Verdict:
    today = t.astimezone(zone).date()
    if cap <= 0:
        return NEVER
    first = today - dt.timedelta(days=WEEK_DAYS - 1)
    recent = sorted(d for d in days if first <= d <= today)
    excess = len(recent) - cap
    if excess < 0:
        return None
    # Free once the oldest `excess + 1` calls have left the 7-day window.
    return _midnight_after(recent[excess], zone, WEEK_DAYS)


def _window(t: dt.datetime, zones: tuple[ZoneInfo, ...], rules: PurposePolicy) -> Verdict:
    start, end = rules.window.start, rules.window.end
    opens: list[dt.datetime] = []
    for zone in zones:
        local = t.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if clock < start:
            opens.append(dt.datetime.combine(local.date(), start, tzinfo=zone))
        elif clock >= end:
            next_day = local.date() + dt.timedelta(days=1)
            opens.append(dt.datetime.combine(next_day, start, tzinfo=zone))
    return max(opens) if opens else None


def _holiday(
    t: dt.datetime,
    callee: Callee,
    rules: PurposePolicy,
    calendar: HolidayCalendar,
    unknown_notes: list[str] | None,
) -> Verdict:
    """The holiday rule; with ``unknown_notes`` it reports only days the calendar cannot tell."""
    hold = rules.holidays
    blocked: list[dt.datetime] = []
    for zone in callee.zones:
        day = t.astimezone(zone).date()
        kind = calendar.day(callee.region, day) if hold.needs_calendar else None
        if unknown_notes is not None:
            if kind is not None and kind.kind is DayKind.UNKNOWN:
                note = f"{day}: {kind.name}"
                if note not in unknown_notes:
                    unknown_notes.append(note)
                return NEVER
            continue
        off = day in hold.extra_dates or (
            kind is not None
            and (
                (hold.public and kind.kind is DayKind.HOLIDAY)
                or (hold.weekends and kind.kind is DayKind.WEEKEND)
            )
        )
        if off:
            blocked.append(_midnight_after(day, zone))
    return max(blocked) if blocked else None
