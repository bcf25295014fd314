"""Who is being called: a checked E.164 number, its country and the time zones it may be in.

The zone comes from the number (``phonenumbers``). A number can map to several zones (a Russian
mobile spans eleven); the gate then requires the window to hold in all of them. A number with no
known zone is kept (it is valid) but has no zones, and the gate denies it with ``unknown_zone``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as pn_timezone

from voicebot.privacy import mask_number
from voicebot.privacy.numbers import parse_number

_UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True)
class Callee:
    """A valid number with what the rules need to know about where it rings."""

    e164: str
    region: str
    """ISO 3166 country code, or ``001`` for non-geographic numbers."""
    zones: tuple[ZoneInfo, ...]
    """Possible time zones; empty when unknown. The first one counts the callee's days."""

    masked: str
    """The number as a person or a log may see it."""

    @property
    def home_zone(self) -> ZoneInfo | None:
        """The zone whose calendar days the caps and the freeze rule count in."""
        return self.zones[0] if self.zones else None

    def local_day(self, now: dt.datetime) -> dt.date:
        """The callee's local date at ``now`` (in the home zone)."""
        zone = self.home_zone
        if zone is None:
            raise ValueError(f"{self.masked}: no known time zone")
        return now.astimezone(zone).date()


def parse_callee(number: str) -> Callee:
    """Check ``number`` and find its zones.

    Raises:
        InvalidNumber: (:mod:`voicebot.privacy.numbers`) with what was expected, e.g. a number
            without ``+`` or an impossible one.
    """
    return _parse(number.strip())


@lru_cache(maxsize=65536)
def _parse(text: str) -> Callee:
    parsed = parse_number(text)
    names = [z for z in pn_timezone.time_zones_for_number(parsed) if z != _UNKNOWN_ZONE]
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Callee(
        e164=e164,
        region=phonenumbers.region_code_for_number(parsed) or "001",
        zones=tuple(ZoneInfo(name) for name in names),
        masked=mask_number(e164),  # with its country: the zone follows from it
    )
