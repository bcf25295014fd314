"""The time rules without a database: windows, zones, holidays, caps, gaps, and not_before."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from voicebot.compliance.calendars import DayKind, HolidayCalendar
from voicebot.compliance.decision import Reason
from voicebot.compliance.policy import Policy, load_policy
from voicebot.compliance.schedule import Evaluation, History, evaluate
from voicebot.compliance.zones import parse_callee
from voicebot.privacy.numbers import InvalidNumber
from voicebot.purpose import Purpose

CN = "+8613800138000"
NYC = "+12125550123"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def run(
    number: str,
    when: str,
    purpose: Purpose = Purpose.MARKETING,
    history: History | None = None,
    policy: Policy | None = None,
) -> Evaluation:
    policy = policy or load_policy()
    return evaluate(
        parse_callee(number),
        policy.for_purpose(purpose),
        HolidayCalendar(policy.calendars),
        history or History(),
        at(when),
    )


def test_national_day_is_a_holiday_until_the_8th_at_opening_time() -> None:
    result = run(CN, "2026-10-01T10:00:00+08:00")
    assert result.reasons == (Reason.HOLIDAY,)
    assert result.not_before is not None
    assert result.not_before.isoformat() == "2026-10-08T08:00:00+08:00"


def test_notifications_may_call_on_holidays() -> None:
    assert run(CN, "2026-10-01T10:00:00+08:00", Purpose.NOTIFICATION).reasons == ()


def test_window_opens_at_eight_local_time() -> None:
    early = run(CN, "2026-11-23T07:59:00+08:00")
    assert early.reasons == (Reason.WINDOW,)
    assert early.not_before == at("2026-11-23T08:00:00+08:00")
    assert run(CN, "2026-11-23T12:00:00+08:00").reasons == ()
    late = run(CN, "2026-11-23T21:00:00+08:00")  # the end is exclusive
    assert late.reasons == (Reason.WINDOW,)
    assert late.not_before == at("2026-11-24T08:00:00+08:00")


def test_new_york_window_in_utc() -> None:
    assert run(NYC, "2026-11-23T13:00:00+00:00").reasons == ()
    denied = run(NYC, "2026-11-23T12:59:00+00:00")
    assert denied.reasons == (Reason.WINDOW,)
    assert denied.not_before is not None
    assert denied.not_before.isoformat() == "2026-11-23T08:00:00-05:00"


def test_us_public_holiday_blocks_marketing() -> None:
    thanksgiving = run(NYC, "2026-11-26T15:00:00+00:00")
    assert thanksgiving.reasons == (Reason.HOLIDAY,)
    assert thanksgiving.not_before is not None
    assert thanksgiving.not_before.isoformat() == "2026-11-27T08:00:00-05:00"


def test_a_number_in_several_zones_must_be_inside_the_window_in_all() -> None:
    moscow_mobile = parse_callee("+79161234567")
    assert len(moscow_mobile.zones) > 5
    # 12:00 UTC is 15:00 in Moscow but 00:00 in Kamchatka.
    denied = run("+79161234567", "2026-11-23T12:00:00+00:00", Purpose.NOTIFICATION)
    assert denied.reasons == (Reason.WINDOW,)
    # The windows overlap from 06:00 UTC (08:00 in Bucharest, UTC+2) to 09:00 UTC (21:00 in
    # Kamchatka, UTC+12).
    assert denied.not_before == at("2026-11-24T06:00:00+00:00")
    assert run("+79161234567", "2026-11-24T08:59:00+00:00", Purpose.NOTIFICATION).reasons == ()


def test_unknown_zone_is_denied_with_a_reason() -> None:
    result = run("+80012345678", "2026-11-23T12:00:00+00:00")
    assert result.reasons == (Reason.UNKNOWN_ZONE,)
    assert result.not_before is None


@pytest.mark.parametrize("bad", ["13800138000", "+86138", "+86 abc", ""])
def test_invalid_numbers_are_rejected_with_an_explanation(bad: str) -> None:
    with pytest.raises(InvalidNumber, match=r"expected an international number|not a"):
        parse_callee(bad)


def test_make_up_working_day_is_allowed_even_when_skipping_weekends(tmp_path: Path) -> None:
    assert HolidayCalendar().day("CN", dt.date(2026, 10, 10)).kind is DayKind.WORKDAY
    user = tmp_path / "policy.yaml"
    user.write_text("purposes:\n  marketing:\n    holidays: {weekends: true}\n")
    policy = load_policy(user)
    assert run(CN, "2026-10-10T10:00:00+08:00", policy=policy).reasons == ()  # Saturday, make-up
    sunday = run(CN, "2026-10-11T10:00:00+08:00", policy=policy)
    assert sunday.reasons == (Reason.HOLIDAY,)
    assert sunday.not_before == at("2026-10-12T08:00:00+08:00")
    assert run(CN, "2026-10-11T10:00:00+08:00").reasons == ()  # weekends allowed by default


def test_extra_dates_block_any_purpose(tmp_path: Path) -> None:
    user = tmp_path / "policy.yaml"
    user.write_text("purposes:\n  notification:\n    holidays: {extra_dates: [2026-11-23]}\n")
    result = run(CN, "2026-11-23T10:00:00+08:00", Purpose.NOTIFICATION, policy=load_policy(user))
    assert result.reasons == (Reason.HOLIDAY,)
    assert result.not_before == at("2026-11-24T08:00:00+08:00")


def test_2027_fails_closed_past_the_calendar_data() -> None:
    result = run(CN, "2027-01-01T10:00:00+08:00")
    assert result.reasons == (Reason.CALENDAR_UNKNOWN,)
    assert result.not_before is None
    assert any("2027" in note for note in result.detail)
    # Notifications do not depend on the holiday calendar.
    assert run(CN, "2027-01-01T10:00:00+08:00", Purpose.NOTIFICATION).reasons == ()


def test_2027_is_decided_when_the_policy_lists_its_holidays(tmp_path: Path) -> None:
    user = tmp_path / "policy.yaml"
    user.write_text(
        "calendars:\n  CN:\n    2027:\n      holidays: [2027-01-01]\n      workdays: [2027-01-02]\n"
    )
    policy = load_policy(user)
    new_year = run(CN, "2027-01-01T10:00:00+08:00", policy=policy)
    assert new_year.reasons == (Reason.HOLIDAY,)
    assert new_year.not_before == at("2027-01-02T08:00:00+08:00")


def test_day_and_week_caps_say_when_they_reset() -> None:
    monday = dt.date(2026, 11, 23)
    today = run(CN, "2026-11-23T12:00:00+08:00", history=History(attempt_days=(monday,)))
    assert today.reasons == (Reason.CAP_DAY,)
    assert today.not_before == at("2026-11-24T08:00:00+08:00")
    three = tuple(monday - dt.timedelta(days=d) for d in (1, 3, 5))  # Sun, Fri, Wed
    week = run(CN, "2026-11-23T12:00:00+08:00", history=History(attempt_days=three))
    assert week.reasons == (Reason.CAP_WEEK,)
    # The oldest (Wednesday the 18th) leaves the 7-day window on Wednesday the 25th.
    assert week.not_before == at("2026-11-25T08:00:00+08:00")


def test_min_gap_freeze_and_dnc(tmp_path: Path) -> None:
    user = tmp_path / "policy.yaml"
    user.write_text("purposes:\n  marketing:\n    min_gap_minutes: 240\n    caps: {per_day: 5}\n")
    policy = load_policy(user)
    last = at("2026-11-23T09:30:00+08:00")
    gap = run(CN, "2026-11-23T12:00:00+08:00", history=History((last.date(),), last), policy=policy)
    assert gap.reasons == (Reason.MIN_GAP,)
    assert gap.not_before == at("2026-11-23T13:30:00+08:00")
    frozen = run(
        CN,
        "2026-11-23T12:00:00+08:00",
        history=History(frozen_until=at("2026-12-20T22:00:00+08:00")),
    )
    assert frozen.reasons == (Reason.FROZEN,)
    assert frozen.not_before == at("2026-12-21T08:00:00+08:00")  # freeze ends after hours
    dnc = run(CN, "2026-11-23T07:00:00+08:00", history=History(dnc=True))
    assert dnc.reasons == (Reason.DNC, Reason.WINDOW)
    assert dnc.not_before is None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        run(CN, "2026-11-23T12:00:00")
