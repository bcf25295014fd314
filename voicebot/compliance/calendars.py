"""Which local days are working days, per country, and where the calendar data ends.

China uses ``chinese-calendar`` (official holidays and the make-up working days on weekends);
other countries use ``holidays``. A year listed in the policy's ``calendars`` replaces the library
for that country. Past the library's data the answer is :attr:`DayKind.UNKNOWN`, and a purpose
that must skip holidays fails closed on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import chinese_calendar
import holidays as holidays_lib

from voicebot.compliance.policy import YearCalendar


class DayKind(StrEnum):
    """What a local day is in a country's official calendar."""

    WORKDAY = "workday"
    """A normal working day, including a make-up working day on a weekend."""
    WEEKEND = "weekend"
    """A regular weekly rest day."""
    HOLIDAY = "holiday"
    """A statutory public holiday (or a day off bridging one)."""
    UNKNOWN = "unknown"
    """The calendar has no data for this date's year or country."""


@dataclass(frozen=True)
class Day:
    """A classified day and, for holidays, its name when the calendar gives one."""

    kind: DayKind
    name: str | None = None


class HolidayCalendar:
    """Classifies days per country; cached, and overridden by the policy's listed years."""

    def __init__(self, listed: dict[str, dict[int, YearCalendar]] | None = None) -> None:
        self._listed = {country.upper(): years for country, years in (listed or {}).items()}
        self._cache: dict[tuple[str, dt.date], Day] = {}
        self._countries: dict[tuple[str, int], Any] = {}

    def day(self, country: str, date: dt.date) -> Day:
        """Classify ``date`` in ``country`` (ISO 3166 code, e.g. ``CN``, ``US``)."""
        key = (country, date)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._classify(country, date)
        return found

    def _classify(self, country: str, date: dt.date) -> Day:
        listed = self._listed.get(country, {}).get(date.year)
        if listed is not None:
            if date in listed.holidays:
                return Day(DayKind.HOLIDAY, "listed in policy")
            if date in listed.workdays:
                return Day(DayKind.WORKDAY)
            return Day(DayKind.WEEKEND if date.weekday() >= 5 else DayKind.WORKDAY)
        if country == "CN":
            return _chinese_day(date)
        return self._other_day(country, date)

    def _other_day(self, country: str, date: dt.date) -> Day:
        calendar = self._countries.get((country, date.year))
        if calendar is None:
            try:
                calendar = holidays_lib.country_holidays(country, years=date.year)
            except NotImplementedError:
                return Day(DayKind.UNKNOWN, f"no holiday calendar for country {country}")
            self._countries[(country, date.year)] = calendar
        name = calendar.get(date)
        if name is not None:
            return Day(DayKind.HOLIDAY, str(name))
        weekend = getattr(calendar, "weekend", {5, 6})
        return Day(DayKind.WEEKEND if date.weekday() in weekend else DayKind.WORKDAY)


def _chinese_day(date: dt.date) -> Day:
    try:
        on_holiday, holiday = chinese_calendar.get_holiday_detail(date)
    except NotImplementedError:
        return Day(DayKind.UNKNOWN, f"chinese-calendar has no data for {date.year}")
    name = str(holiday) if holiday is not None else None
    if on_holiday:
        return Day(DayKind.HOLIDAY, name) if holiday is not None else Day(DayKind.WEEKEND)
    return Day(DayKind.WORKDAY)
