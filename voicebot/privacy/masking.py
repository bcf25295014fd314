"""Mask phone numbers before they reach a screen, a log line or an audit row.

One masker for the whole engine, so every output hides the same digits: the first three and
the last four digits of the national number stay, the middle becomes ``*`` (``138****8000``).
An international number keeps its country code in front (``+86 138****8000``): the country
decides the calling window, so a number read as the wrong country must be visible as such.
"""

from __future__ import annotations

import re

import phonenumbers

_KEEP_HEAD = 3
_KEEP_TAIL = 4


def mask_number(number: str) -> str:
    """Mask a phone number for display: ``+8613800138000`` -> ``+86 138****8000``.

    The national significant number is masked, after its country code, when the input parses
    as an international number; otherwise the digits of the input are (``138****8000``).
    Short numbers keep fewer digits so that at least half stay hidden. Never raises: masking
    must work on bad input too (it is what error messages show).

    Args:
        number: an E.164 number (``+8613800138000``) or any string of digits.
    """
    country, digits = _split(number)
    if not digits:
        return "*" * len(number.strip()) if number.strip() else ""
    masked = mask_digits(digits)
    return f"+{country} {masked}" if country else masked


def mask_digits(digits: str) -> str:
    """Mask a national significant number already extracted by the caller (no parsing)."""
    n = len(digits)
    if n >= _KEEP_HEAD + _KEEP_TAIL + 2:
        head, tail = _KEEP_HEAD, _KEEP_TAIL
    else:
        # Keep at most a quarter at each end, so short numbers stay mostly hidden.
        head = tail = n // 4
    return digits[:head] + "*" * (n - head - tail) + digits[n - tail :]


def _split(number: str) -> tuple[int | None, str]:
    """(country calling code or None, the digits to mask)."""
    text = number.strip()
    if text.startswith("+"):
        try:
            parsed = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            pass
        else:
            return parsed.country_code, phonenumbers.national_significant_number(parsed)
    return None, "".join(ch for ch in text if ch.isdigit())


_MIN_DIGITS = 7
_MAX_DIGITS = 15
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d\.)"
    r"(?:"
    r"\+\d[\d ().-]{5,22}\d"  # international, separators allowed
    r"|\(?\d{2,4}\)?[ -]\d{3,4}[ -]\d{4}"  # national with separators
    r"|\d{7,15}"  # bare digits
    r")"
    r"(?!\w|\.\d)"
)


def mask_text(text: str) -> str:
    """``text`` with every phone number masked: ``call +8613800138000`` -> ``call 138****8000``."""
    return _PHONE.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = "".join(ch for ch in found if ch.isdigit())
    if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
        return found
    if found.startswith("+"):
        return mask_number("+" + digits)
    return mask_digits(digits)
