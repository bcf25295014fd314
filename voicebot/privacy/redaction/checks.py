"""Check digits that tell a card or an ID number from any other long number.

A transcript is full of digits (amounts, order numbers, dates); only numbers whose check digit
verifies are treated as card or ID numbers, so an order number keeps its value for the QA team.
"""

from __future__ import annotations

from datetime import date

_CN_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CN_ID_CHECK = "10X98765432"

CN_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91}
)
"""First two digits of a resident ID: province-level division codes (GB/T 2260), plus
71/81/82/83 (Taiwan, Hong Kong, Macao residents' permits) and 91 (foreigners' permanent
residence)."""


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number carries in its last digit."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def cn_id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character (``0``-``9`` or ``X``) of a resident ID number."""
    if len(first17) != 17 or not (first17.isdigit() and first17.isascii()):
        raise ValueError(f"expected 17 digits, got {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, _CN_ID_WEIGHTS, strict=True))
    return _CN_ID_CHECK[total % 11]


def cn_id_valid(number: str, today: date | None = None) -> bool:
    """An 18-character Chinese resident ID: plausible region, real birth date, right check char.

    The birth date (digits 7-14) must be a calendar date from 1900 up to ``today``.
    """
    if len(number) != 18 or not (number[:17].isdigit() and number[:17].isascii()):
        return False
    if int(number[:2]) not in CN_PROVINCES:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= born <= (today or date.today()):
        return False
    return cn_id_check_char(number[:17]) == number[17].upper()
