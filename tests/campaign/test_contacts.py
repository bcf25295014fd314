"""Contact import: E.164 normalization, rejected rows with line numbers, merged duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.campaign.contacts import (
    ContactFileError,
    normalize_number,
    parse_contacts,
    read_contacts,
)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+86 138-0013-8000", "US", "+8613800138000"),
        ("(202) 555-0123", "US", "+12025550123"),
        ("+1 212 555 0199", "CN", "+12125550199"),
    ],
)
def test_numbers_become_e164(raw: str, region: str, expected: str) -> None:
    assert normalize_number(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "hello", "123", "+86 138 0013 800"])
def test_invalid_numbers_say_why(raw: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        normalize_number(raw, "CN")


def test_report_keeps_every_row_accounted_for() -> None:
    text = (
        "name,phone,offer\n"
        "张先生,138 0013 8000,千兆宽带\n"
        "李女士,not-a-number,千兆宽带\n"
        "王先生,+86 13800138000,千兆宽带\n"
        "赵女士,139 0013 9000\n"
        "\n"
        "钱先生,13700137000,五百兆\n"
    )
    report = parse_contacts(text, "CN", source="list.csv")
    assert [c.number for c in report.contacts] == ["+8613800138000", "+8613700137000"]
    assert report.contacts[0].variables == {"name": "张先生", "offer": "千兆宽带"}
    assert [(r.line, r.raw_number) for r in report.rejected] == [
        (3, "not-a-number"),
        (5, "139 0013 9000"),
    ]
    assert "expected 3 columns" in report.rejected[1].reason
    assert report.duplicates == [(4, 2)]
    assert report.rows == 5


def test_file_without_number_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("name,email\nA,a@example.com\n", encoding="utf-8")
    with pytest.raises(ContactFileError, match=r"c.csv:1: no phone number column"):
        read_contacts(path, "CN")


def test_bom_and_chinese_header(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("\ufeff姓名,手机号\n张三,13800138000\n", encoding="utf-8")
    report = read_contacts(path, "CN")
    assert report.contacts[0].variables == {"姓名": "张三"}


def test_without_default_region_a_number_lacking_its_country_is_refused_not_guessed() -> None:
    """The number "(202) 555-0142" once became +86 20 2555 0142 silently: now it is refused,
    with how to fix it, and a number with its + still imports."""
    report = parse_contacts(
        "phone,name\n(202) 555-0142,Ann\n+1 202 555 0143,Bob\n", None, source="c.csv"
    )
    assert [c.number for c in report.contacts] == ["+12025550143"]
    [bad] = report.rejected
    assert bad.line == 2 and "no country code" in bad.reason and "default_region" in bad.reason
    assert report.summary() == "1 contacts imported (US 1)"


def test_the_summary_shows_the_countries_and_what_took_the_default_region() -> None:
    report = parse_contacts("number\n(202) 555-0142\n+12025550143\n", "CN", source="c.csv")
    assert report.contacts[0].number == "+862025550142"
    assert report.countries == {"CN": 1, "US": 1}
    assert report.summary() == (
        "2 contacts imported (CN 1, US 1); 1 written without + were read as CN (default_region)"
    )


def test_a_campaign_file_without_default_region_leaves_it_unset(tmp_path: Path) -> None:
    from voicebot.campaign.config import load_campaign

    (tmp_path / "c.csv").write_text("number\n+12025550143\n", encoding="utf-8")
    (tmp_path / "f.yaml").write_text("x", encoding="utf-8")
    path = tmp_path / "camp.yaml"
    path.write_text(
        'name: t\nflow: f.yaml\ncontacts: c.csv\ncaller_id: "+12025550100"\n', encoding="utf-8"
    )
    assert load_campaign(path).default_region is None
