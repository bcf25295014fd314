"""Numbers as they appear in transcripts: written digits, or digit words from speech recognition.

ASR writes a card number read aloud as ``六二二二 零零零零 ...`` or ``four one one one ...``.
This module finds runs of digits, written or spoken, that belong together, and keeps for every
token its span in the original text, so a number can be checked as digits (Luhn, ID checksum)
and redacted exactly where it was said.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

ZH_DIGITS: dict[str, str] = {
    **dict.fromkeys("零〇○", "0"),
    **dict.fromkeys("一幺壹", "1"),
    **dict.fromkeys("二两兩贰貳", "2"),
    **dict.fromkeys("三叁參", "3"),
    **dict.fromkeys("四肆", "4"),
    **dict.fromkeys("五伍", "5"),
    **dict.fromkeys("六陆陸", "6"),
    **dict.fromkeys("七柒", "7"),
    **dict.fromkeys("八捌", "8"),
    **dict.fromkeys("九玖", "9"),
}
"""Chinese digit characters as spoken in a digit string: 幺 for 1 and 两 for 2 included."""

EN_DIGITS: dict[str, str] = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
"""English digit words; "oh" is how most people say 0 in a card or account number."""

EN_REPEATS: dict[str, int] = {"double": 2, "triple": 3}
"""Words that repeat the next digit ("double four" is 44)."""

SPOKEN_DIGITS: dict[str, dict[str, str]] = {"zh": ZH_DIGITS, "en": EN_DIGITS}
"""Digit vocabularies by language; :data:`ALWAYS` apply whatever a transcript's locale."""

ALWAYS: tuple[str, ...] = ("zh", "en")
"""Languages whose digit words are always recognised: people switch language to read numbers,
and a mislabelled transcript must still be redacted."""

CHECK_CHARS = "Xx叉"
"""The ID check character 10, written or said ("叉")."""

_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
_WRITTEN_GAP = re.compile(r"[ \t\u00a0\u3000]?[-–—]?[ \t\u00a0\u3000]?")
_SPOKEN_GAP = re.compile(r"[\s,，、\-–—]{0,4}")


@dataclass(frozen=True)
class DigitToken:
    """One written digit group or spoken digit word, as digits, with its span in the text."""

    digits: str
    start: int
    end: int
    spoken: bool


@dataclass(frozen=True)
class DigitRun:
    """Digit tokens separated only by spaces, dashes or (when spoken) commas."""

    tokens: tuple[DigitToken, ...]

    @property
    def digits(self) -> str:
        """All the digits of the run, in order (``X`` possible for an ID check character)."""
        return "".join(t.digits for t in self.tokens)

    @property
    def start(self) -> int:
        """Where the run starts in the text."""
        return self.tokens[0].start

    @property
    def end(self) -> int:
        """Where the run ends in the text."""
        return self.tokens[-1].end

    def windows(self, shortest: int, longest: int) -> Iterator[tuple[int, int, str]]:
        """Token-aligned sub-runs of ``shortest``..``longest`` digits as ``(i, j, digits)``.

        Windows never split a token: a written group ``4111`` stays whole, so a grouped order
        number is only ever checked as a whole, while spoken digits (one token each) can be
        cut out of a longer stretch of speech.
        """
        for i in range(len(self.tokens)):
            digits = ""
            for j in range(i, len(self.tokens)):
                digits += self.tokens[j].digits
                if len(digits) > longest:
                    break
                if len(digits) >= shortest:
                    yield i, j + 1, digits


@lru_cache(maxsize=16)
def _token_pattern(languages: tuple[str, ...]) -> re.Pattern[str]:
    chars = {c for lang in languages for c in SPOKEN_DIGITS.get(lang, {}) if len(c) == 1}
    zh = "".join(sorted(chars))
    words = sorted(
        {w for lang in languages for w in SPOKEN_DIGITS.get(lang, {}) if len(w) > 1},
        key=len,
        reverse=True,
    )
    word = "|".join(words)
    repeat = "|".join(EN_REPEATS)
    return re.compile(
        r"(?P<written>[0-9０-９]+)"
        rf"|(?<=[0-9０-９])(?P<check>[Xx])(?![A-Za-z])|(?P<said_check>叉)"
        rf"|(?<![A-Za-z])(?P<repeat>{repeat})[\s-]+(?P<repeated>{word})(?![A-Za-z])"
        rf"|(?<![A-Za-z])(?P<word>{word})(?![A-Za-z])"
        rf"|(?P<char>[{zh}])",
        re.IGNORECASE,
    )


def tokens(text: str, languages: Iterable[str]) -> Iterator[DigitToken]:
    """Every digit token in ``text``, written or spoken in one of ``languages``."""
    languages = tuple(sorted(set(languages)))
    vocabulary = {
        k.lower(): v for lang in languages for k, v in SPOKEN_DIGITS.get(lang, {}).items()
    }
    for match in _token_pattern(languages).finditer(text):
        kind = match.lastgroup
        start, end = match.span()
        if kind == "written":
            yield DigitToken(match.group().translate(_FULLWIDTH), start, end, False)
        elif kind in ("check", "said_check"):
            yield DigitToken("X", start, end, kind == "said_check")
        elif kind == "repeated":
            count = EN_REPEATS.get(match.group("repeat").lower())
            digit = vocabulary.get(match.group("repeated").lower())
            if count is not None and digit is not None:
                yield DigitToken(digit * count, start, end, True)
        elif (digit := vocabulary.get(match.group().lower())) is not None:
            yield DigitToken(digit, start, end, True)
        # else: Unicode case folding matched a look-alike ("sıx" with a dotless i, the Kelvin
        # sign for "k"), which lowercases to no digit word: not a spoken digit.


def runs(text: str, languages: Iterable[str]) -> list[DigitRun]:
    """Tokens grouped into runs: neighbours join across spaces and dashes, and across commas too
    when either is spoken (ASR punctuates pauses in a number read aloud)."""
    found: list[DigitRun] = []
    current: list[DigitToken] = []
    for token in tokens(text, languages):
        if current and _joins(text, current[-1], token):
            current.append(token)
            continue
        if current:
            found.append(DigitRun(tuple(current)))
        current = [token]
    if current:
        found.append(DigitRun(tuple(current)))
    return found


def _joins(text: str, left: DigitToken, right: DigitToken) -> bool:
    if left.digits == "X":
        return False  # a check character ends a number
    gap = text[left.end : right.start]
    pattern = _SPOKEN_GAP if left.spoken or right.spoken else _WRITTEN_GAP
    return pattern.fullmatch(gap) is not None
