"""Email addresses, written (``li.na@example.cn``) or as speech recognition writes them
(``li dot na at example dot cn``, ``zhangsan 艾特 qq 点 com``).

Spoken addresses are found from each "at" outwards, within a bounded window, so a long
transcript costs linear time whatever it contains.
"""

from __future__ import annotations

import re

_WRITTEN = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
)

TLDS = (
    *("com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "io", "co", "me"),
    *("cn", "hk", "tw", "mo", "jp", "kr", "sg", "uk", "us", "de", "fr", "ru", "in", "au", "ca"),
)
"""Top-level domains a spoken address must end with; without one, "at ... dot ..." in speech
is too often not an address."""

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?"
_DOT = r"(?:\s+dot\s+|\s*点\s*|\s*\.\s*)"
_AT = re.compile(r"\s+at\s+|\s*艾特\s*|\s*@\s*", re.IGNORECASE)
_DOMAIN = re.compile(
    rf"{_LABEL}(?:{_DOT}{_LABEL}){{0,8}}{_DOT}(?:{'|'.join(TLDS)})(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_LOCAL = re.compile(rf"(?<![A-Za-z0-9._%+-]){_LABEL}(?:(?:{_DOT}|[._+-]){_LABEL}){{0,8}}\Z", re.I)
_LOCAL_WINDOW = 96


def find_emails(text: str) -> list[tuple[int, int, bool]]:
    """Spans of email addresses as ``(start, end, spoken)``, in text order, not overlapping."""
    found = [(m.start(), m.end(), False) for m in _WRITTEN.finditer(text)]
    for at in _AT.finditer(text):
        if any(s <= at.start() < e for s, e, _ in found):
            continue
        domain = _DOMAIN.match(text, at.end())
        local = _LOCAL.search(text, max(0, at.start() - _LOCAL_WINDOW), at.start())
        if domain is None or local is None:
            continue
        start, end = local.start(), domain.end()
        if not any(start < e and s < end for s, e, _ in found):
            found.append((start, end, True))
    return sorted(found)
