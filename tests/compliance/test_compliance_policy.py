"""Policy YAML: shipped defaults, user overrides, and errors that name the file and line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from voicebot.compliance.policy import DEFAULT_POLICY_FILE, load_policy
from voicebot.purpose import Purpose
from voicebot.yamlsource import SourceErrors


def test_defaults_follow_the_issue() -> None:
    policy = load_policy()
    for purpose in Purpose:
        rules = policy.for_purpose(purpose)
        assert (rules.window.start, rules.window.end) == (dt.time(8), dt.time(21))
        assert (rules.caps.per_day, rules.caps.per_week, rules.caps.scope) == (1, 3, "all")
    assert policy.for_purpose(Purpose.MARKETING).holidays.public
    assert policy.for_purpose(Purpose.SURVEY).holidays.public
    assert not policy.for_purpose(Purpose.NOTIFICATION).holidays.public
    assert (policy.freeze.calls, policy.freeze.short_seconds, policy.freeze.days) == (3, 15, 30)
    assert policy.do_not_call.opt_out_scope == "global"


def test_user_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    user = tmp_path / "policy.yaml"
    user.write_text(
        "version: acme-1\n"
        "purposes:\n"
        "  marketing:\n"
        "    window: {start: '09:00', end: '20:00'}\n"
        "    holidays: {weekends: true}\n"
        "calendars:\n"
        "  CN:\n"
        "    2027:\n"
        "      holidays: [2027-01-01]\n",
        encoding="utf-8",
    )
    policy = load_policy(user)
    marketing = policy.for_purpose(Purpose.MARKETING)
    assert marketing.window.start == dt.time(9)
    assert marketing.holidays.weekends and marketing.holidays.public  # merged, not replaced
    assert policy.for_purpose(Purpose.SURVEY).window.start == dt.time(8)
    assert policy.calendars["CN"][2027].holidays == (dt.date(2027, 1, 1),)
    assert policy.version_tag.startswith("acme-1+")
    assert policy.version_tag != load_policy().version_tag


def test_errors_point_at_the_users_file_and_line(tmp_path: Path) -> None:
    user = tmp_path / "policy.yaml"
    user.write_text(
        "purposes:\n"
        "  marketing:\n"
        "    window: {start: '22:00', end: '21:00'}\n"
        "    caps:\n"
        "      per_day: -1\n"
        "freeze:\n"
        "  calls_per_day: 3\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceErrors) as caught:
        load_policy(user)
    messages = [str(e) for e in caught.value.errors]
    assert any(m.startswith(f"{user}:3:") and "must be before end" in m for m in messages)
    assert any(m.startswith(f"{user}:5:") and "per_day" in m for m in messages)
    assert any(m.startswith(f"{user}:7:") and "unknown field" in m for m in messages)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    user = tmp_path / "policy.yaml"
    user.write_text("purposes:\n  marketing: [unclosed\n", encoding="utf-8")
    with pytest.raises(SourceErrors, match=rf"^{user}:\d+:\d+: YAML syntax"):
        load_policy(user)


def test_a_listed_calendar_date_must_be_in_its_year(tmp_path: Path) -> None:
    user = tmp_path / "policy.yaml"
    user.write_text("calendars:\n  CN:\n    2027:\n      holidays: [2028-01-01]\n")
    with pytest.raises(SourceErrors, match="2028-01-01 is not in 2027"):
        load_policy(user)


def test_a_policy_must_be_a_mapping(tmp_path: Path) -> None:
    user = tmp_path / "policy.yaml"
    user.write_text("- just\n- a list\n")
    with pytest.raises(SourceErrors, match=rf"^{user}:1:1: a policy file is a mapping"):
        load_policy(user)


def test_the_default_file_ships_inside_the_package() -> None:
    assert DEFAULT_POLICY_FILE.parent.name == "compliance"
    assert DEFAULT_POLICY_FILE.is_file()
