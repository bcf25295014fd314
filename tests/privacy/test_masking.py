"""The one phone-number masker: what stays visible and what does not."""

from __future__ import annotations

import pytest

from voicebot.privacy import mask_number


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+8613800138000", "+86 138****8000"),
        ("+12025550123", "+1 202***0123"),
        ("13800138000", "138****8000"),
        ("+61212345678", "+61 212**5678"),
        ("12345", "1***5"),
        ("1234", "1**4"),
        ("12", "**"),
        ("", ""),
        ("abc", "***"),
    ],
)
def test_mask_number(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def test_masked_number_never_contains_the_middle_digits() -> None:
    masked = mask_number("+8613812345678")
    assert "1234" not in masked
    assert masked.endswith("5678")


def test_mask_digits_matches_mask_number() -> None:
    from voicebot.privacy import mask_digits

    assert mask_digits("13800138000") == mask_number("13800138000") == "138****8000"
    assert mask_number("+8613800138000") == "+86 " + mask_digits("13800138000")


def test_the_country_shows_so_a_wrong_region_is_visible() -> None:
    """(202) 555-0142 read as Chinese and as American must not look alike once masked."""
    assert mask_number("+862025550142") != mask_number("+12025550142")
    assert mask_number("+862025550142").startswith("+86 ")
    assert mask_number("+12025550142") == "+1 202***0142"


def test_masking_a_masked_number_changes_nothing() -> None:
    from voicebot.privacy.masking import mask_text

    for number in ("+8613800138000", "+12025550123", "+353871234567"):
        once = mask_text(f"call {number} now")
        assert mask_text(once) == once
        assert mask_number(number) in once
