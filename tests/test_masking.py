"""The one phone-number masker: what stays visible and what does not."""

from __future__ import annotations

import pytest

from voicebot.privacy import mask_number


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+8613800138000", "138****8000"),
        ("+12025550123", "202***0123"),
        ("13800138000", "138****8000"),
        ("+61212345678", "212**5678"),
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
