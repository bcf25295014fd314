"""When to call back: the time a callee named, read in the callee's own zone, or a default.

The time is only a wish: the dialer still asks the gate at that instant, and the gate's
``not_before`` moves it to the next allowed slot (window, holiday, caps).
"""

from __future__ import annotations

import datetime as dt
import re

from voicebot.compliance.zones import parse_callee
from voicebot.privacy.numbers import InvalidNumber

_CLOCK = re.compile(r"^(?P<h>[01]?\d|2[0-3])[:.](?P<m>[0-5]\d)$")


def callback_time(
    when: str | None, number: str, now: dt.datetime, default: dt.datetime
) -> dt.datetime:
    """The instant to call ``number`` back.

    Args:
        when: as the flow passed it: an ISO 8601 instant (a naive one is the callee's local
            time), ``HH:MM`` (the next such time in the callee's zone), or None/empty.
        number: the callee (E.164), for their zone.
        now: the current instant.
        default: used when ``when`` is empty or cannot be read, or lies in the past.
    """
    text = (when or "").strip()
    if not text:
        return default
    try:
        zone = parse_callee(number).home_zone or dt.UTC
    except InvalidNumber:
        zone = dt.UTC
    match = _CLOCK.match(text)
    if match:
        local = now.astimezone(zone)
        at = local.replace(hour=int(match["h"]), minute=int(match["m"]), second=0, microsecond=0)
        if at <= local:
            at += dt.timedelta(days=1)
        return at.astimezone(dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return default
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC) if parsed > now else default
