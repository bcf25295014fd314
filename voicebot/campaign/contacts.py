"""Contact lists: a CSV becomes callable E.164 numbers plus flow variables, or a report of why not.

Nothing is dropped silently: every row is either imported, merged into an earlier row with the
same number, or listed in the import report with its line number and the reason.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers

NUMBER_COLUMNS = ("number", "phone", "phone_number", "mobile", "tel", "电话", "手机", "手机号")


@dataclass(frozen=True)
class Contact:
    """One callee: the number in E.164 and the row's other columns as flow variables."""

    number: str
    variables: dict[str, str]
    line: int


@dataclass(frozen=True)
class RejectedRow:
    """A row that was not imported, and why."""

    line: int
    raw_number: str
    reason: str


@dataclass
class ImportReport:
    """What became of every row of a contact file."""

    source: str
    contacts: list[Contact] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    duplicates: list[tuple[int, int]] = field(default_factory=list)
    """(line, line of the first row with the same number) for merged rows."""
    default_region: str | None = None
    """The country assumed for numbers written without ``+`` (None: such numbers are refused)."""
    by_default_region: int = 0
    """Imported numbers that had no ``+`` and so took ``default_region``'s country."""
    countries: Counter[str] = field(default_factory=Counter)
    """Imported numbers per country (ISO code): what the calling windows will follow."""

    def summary(self) -> str:
        """One line a person can check before anything is dialled: how many numbers, where."""
        where = ", ".join(f"{region} {n}" for region, n in sorted(self.countries.items()))
        text = f"{len(self.contacts)} contacts imported ({where or 'none'})"
        if self.by_default_region:
            text += (
                f"; {self.by_default_region} written without + were read as "
                f"{self.default_region} (default_region)"
            )
        return text

    @property
    def rows(self) -> int:
        """Data rows read (header excluded)."""
        return len(self.contacts) + len(self.rejected) + len(self.duplicates)


class ContactFileError(ValueError):
    """The file as a whole cannot be used (no header, no number column, unreadable)."""


NO_REGION = (
    "no country code: write the number with + and its country code (e.g. +1 202 555 0142), "
    "or set default_region (e.g. US, CN) in the campaign file"
)


def normalize_number(raw: str, default_region: str | None) -> str:
    """``raw`` as E.164, or ValueError saying why it is not a callable number.

    Args:
        raw: as written in the file: ``138 0013 8000``, ``+1 (202) 555-0123``, ...
        default_region: ISO country code used when the number has no ``+`` prefix, e.g. ``CN``;
            None: such a number is refused (never guessed: the country sets the calling window).
    """
    text = raw.strip()
    if not text:
        raise ValueError("empty number")
    if default_region is None and not text.startswith("+"):
        raise ValueError(NO_REGION)
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number ({exc})") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError("wrong length for a phone number of its country")
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid number in its numbering plan")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def read_contacts(path: Path, default_region: str | None) -> ImportReport:
    """Import a CSV file (UTF-8, with or without BOM; a header row names the columns)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContactFileError(f"{path}: cannot read contacts: {exc}") from None
    return parse_contacts(text, default_region, source=str(path))


def parse_contacts(
    text: str, default_region: str | None, source: str = "<contacts>"
) -> ImportReport:
    """Import CSV text; see :func:`read_contacts`."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ContactFileError(f"{source}: empty file; expected a header row") from None
    number_col = _number_column(header, source)
    report = ImportReport(source=source, default_region=default_region)
    first_line_of: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raw = row[number_col] if number_col < len(row) else ""
            report.rejected.append(
                RejectedRow(
                    line,
                    raw,
                    f"expected {len(header)} columns ({', '.join(header)}), got {len(row)}",
                )
            )
            continue
        raw = row[number_col]
        try:
            number = normalize_number(raw, default_region)
        except ValueError as exc:
            report.rejected.append(RejectedRow(line, raw, str(exc)))
            continue
        if number in first_line_of:
            report.duplicates.append((line, first_line_of[number]))
            continue
        first_line_of[number] = line
        variables = {
            name: cell.strip()
            for i, (name, cell) in enumerate(zip(header, row, strict=True))
            if i != number_col and name
        }
        report.contacts.append(Contact(number, variables, line))
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number))
        report.countries[region or "001"] += 1
        if not raw.strip().startswith("+"):
            report.by_default_region += 1
    return report


def _number_column(header: Iterable[str], source: str) -> int:
    names = [h.lower() for h in header]
    for candidate in NUMBER_COLUMNS:
        if candidate in names:
            return names.index(candidate)
    raise ContactFileError(
        f"{source}:1: no phone number column; expected one of: {', '.join(NUMBER_COLUMNS)}"
    )
