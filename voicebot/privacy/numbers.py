"""Checked phone numbers: E.164 or a clear error that shows the number masked.

Why in privacy: a number is the personal datum this engine handles most; every place that
takes one from a person (a CSV, the command line, an erasure request) checks it here, and an
error never echoes the digits back into a log.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from voicebot.privacy.masking import mask_number


class InvalidNumber(ValueError):
    """The input is not a valid international phone number."""


def parse_number(number: str) -> phonenumbers.PhoneNumber:
    """``number`` parsed and checked to be a valid international number.

    Raises:
        InvalidNumber: with what was expected, e.g. a number without ``+`` or an impossible one.
    """
    return _parse(number.strip())


def to_e164(number: str) -> str:
    """``number`` in E.164 form (``+8613800138000``).

    Raises:
        InvalidNumber: as :func:`parse_number`.
    """
    return phonenumbers.format_number(parse_number(number), phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65536)
def _parse(text: str) -> phonenumbers.PhoneNumber:
    if not text.startswith("+"):
        raise InvalidNumber(
            f"{mask_number(text)!r}: expected an international number starting with + "
            "(E.164), e.g. +8613800138000"
        )
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"{mask_number(text)!r}: not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        digits = len(phonenumbers.national_significant_number(parsed))
        raise InvalidNumber(
            f"{mask_number(text)!r} ({digits} digits after +{parsed.country_code}): "
            f"not a valid number for country code +{parsed.country_code}"
        )
    return parsed
