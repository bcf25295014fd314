"""Redact card, ID and bank account numbers and emails from a transcript before it is stored.

Each finding is replaced by a typed placeholder (``[CARD]``, ``[CN_ID]``, ``[BANK_ACCOUNT]``,
``[EMAIL]``) and reported by type and span only: the value itself is never kept, logged or
returned. Numbers count whether written or read aloud (see :mod:`.digits`), and are checked
before they are removed: a card number must pass Luhn, an ID its MOD 11-2 check and birth date,
so order numbers and amounts stay readable. A long number right after words such as 账号, 卡号
or "account number" is removed as a bank account whatever its check digit.

Phone numbers are left alone here; masking them for display is :mod:`voicebot.privacy.masking`'s
job, and a phone number is a fact of the call the QA team needs.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from voicebot.privacy.redaction.checks import cn_id_valid, luhn_valid
from voicebot.privacy.redaction.digits import ALWAYS, SPOKEN_DIGITS, DigitRun, runs
from voicebot.privacy.redaction.emails import find_emails


class Kind(StrEnum):
    """What was redacted; the placeholder is ``[<kind>]``."""

    CARD = "CARD"
    CN_ID = "CN_ID"
    BANK_ACCOUNT = "BANK_ACCOUNT"
    EMAIL = "EMAIL"


@dataclass(frozen=True)
class Finding:
    """One redacted span of the original text: its type and position, never its value."""

    kind: Kind
    start: int
    end: int
    spoken: bool = False
    """True if it was (at least partly) said: digit words, "at" and "dot"."""

    @property
    def placeholder(self) -> str:
        """The text that replaces the span."""
        return f"[{self.kind.value}]"


@dataclass(frozen=True)
class RedactionResult:
    """The redacted text and what was removed from the original."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def redacted(self) -> bool:
        """Whether anything was removed."""
        return bool(self.findings)


CARD_DIGITS = (13, 19)
"""Payment card numbers (ISO/IEC 7812) have 13 to 19 digits; UnionPay's start with 62."""
CN_ID_LENGTH = 18
ACCOUNT_MIN_DIGITS = 8
"""Shortest number taken as an account after an account keyword."""

ACCOUNT_KEYWORDS = (
    "银行卡号",
    "银行账号",
    "银行帐号",
    "账号",
    "帐号",
    "账户",
    "帐户",
    "卡号",
    "户号",
    "account number",
    "account no",
    "account #",
    "acct number",
    "acct no",
    "bank account",
    "card number",
    "card no",
)
"""Words that introduce a bank account or card number in zh and en speech or text."""

_KEYWORD = re.compile("|".join(re.escape(k) for k in ACCOUNT_KEYWORDS), re.IGNORECASE)
_KEYWORD_GAP = re.compile(r"[^0-9０-９。.!?！？;；\n]{0,16}")
_CN_MOBILE = re.compile(r"(?:(?:00)?86)?1[3-9]\d{9}")
"""A Chinese mobile number, with or without its country code (+86 138 0013 8000 has 13
digits, as many as some cards)."""
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


def redact(text: str, locale: str, *, today: date | None = None) -> RedactionResult:
    """Replace card numbers, Chinese resident ID numbers, bank accounts and emails.

    Args:
        text: a transcript line or document, as the recogniser or a person wrote it.
        locale: the transcript's locale (``zh-CN``, ``en-US``, ...). Chinese and English digit
            words are always recognised; the locale's language adds its own if
            :data:`~voicebot.privacy.redaction.digits.SPOKEN_DIGITS` has them.
        today: the latest birth date an ID may carry (tests pin it).

    Raises:
        ValueError: ``locale`` is not a locale tag.
    """
    if not _LOCALE.fullmatch(locale):
        raise ValueError(f"locale {locale!r} is not a locale tag such as 'zh-CN' or 'en-US'")
    language = re.split(r"[-_]", locale)[0].lower()
    languages = {*ALWAYS, language} & set(SPOKEN_DIGITS)

    findings = [Finding(Kind.EMAIL, s, e, spoken) for s, e, spoken in find_emails(text)]
    digit_runs = [r for r in runs(text, languages) if not _overlaps(r.start, r.end, findings)]
    introduced = _introduced(text, digit_runs)
    for run in digit_runs:
        if text[: run.start].rstrip().endswith(("+", "＋")):
            continue  # an international phone number: never a card, masking's business
        whole = _whole_number(run, today) if run in introduced else None
        findings += [whole] if whole else _numbers_in(run, today)
    findings.sort(key=lambda f: f.start)
    return RedactionResult(_replace(text, findings), tuple(findings))


def _numbers_in(run: DigitRun, today: date | None) -> list[Finding]:
    """Card and ID numbers in one run, longest first, without overlaps."""
    candidates: list[tuple[int, int, int, Kind]] = []
    for i, j, digits in run.windows(CARD_DIGITS[0], max(CARD_DIGITS[1], CN_ID_LENGTH)):
        if _CN_MOBILE.fullmatch(digits):
            continue
        if len(digits) == CN_ID_LENGTH and cn_id_valid(digits, today):
            candidates.append((len(digits), i, j, Kind.CN_ID))
        elif CARD_DIGITS[0] <= len(digits) <= CARD_DIGITS[1] and luhn_valid(digits):
            candidates.append((len(digits), i, j, Kind.CARD))
    candidates.sort(key=lambda c: (-c[0], c[3] != Kind.CN_ID, c[1]))
    taken: list[tuple[int, int]] = []
    found = []
    for _, i, j, kind in candidates:
        if any(i < b and a < j for a, b in taken):
            continue
        taken.append((i, j))
        tokens = run.tokens[i:j]
        spoken = any(t.spoken for t in tokens)
        found.append(Finding(kind, tokens[0].start, tokens[-1].end, spoken))
    return found


def _introduced(text: str, digit_runs: list[DigitRun]) -> set[DigitRun]:
    """Runs that follow an account keyword closely (``卡号是 ...``, ``account number is ...``)."""
    starts = [r.start for r in digit_runs]  # runs come in text order
    introduced = set()
    for keyword in _KEYWORD.finditer(text):
        index = bisect_left(starts, keyword.end())
        if index == len(digit_runs):
            break
        run = digit_runs[index]
        if _KEYWORD_GAP.fullmatch(text[keyword.end() : run.start]):
            introduced.add(run)
    return introduced


def _whole_number(run: DigitRun, today: date | None) -> Finding | None:
    """A keyword-introduced run taken whole: ID or card if it checks, else a bank account.

    Said after "卡号", a number is an account even when ASR misheard a digit or the bank's
    numbers do not carry a Luhn digit; a mobile number there stays (masking handles it).
    """
    digits = run.digits
    spoken = any(t.spoken for t in run.tokens)
    if len(digits) == CN_ID_LENGTH and cn_id_valid(digits, today):
        kind = Kind.CN_ID
    elif CARD_DIGITS[0] <= len(digits) <= CARD_DIGITS[1] and luhn_valid(digits):
        kind = Kind.CARD
    elif len(digits) >= ACCOUNT_MIN_DIGITS and not _CN_MOBILE.fullmatch(digits):
        kind = Kind.BANK_ACCOUNT
    else:
        return None
    return Finding(kind, run.start, run.end, spoken)


def _overlaps(start: int, end: int, findings: list[Finding]) -> bool:
    return any(start < f.end and f.start < end for f in findings)


def _replace(text: str, findings: list[Finding]) -> str:
    parts = []
    position = 0
    for finding in findings:
        parts.append(text[position : finding.start])
        parts.append(finding.placeholder)
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)
