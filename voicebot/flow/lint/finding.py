"""What the lint reports: one problem, its rule, its severity and where it is.

A finding is a plain value so the CLI can print it as ``file:line:col: rule: message`` (for
editors and grep) or as JSON (for CI annotations) without knowing any rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Severity(StrEnum):
    """Errors fail the lint; warnings fail it only with ``--strict``."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in a flow (or in the prompts it uses), pinned to a 1-based line and column."""

    file: str
    line: int
    col: int
    rule: str
    severity: Severity
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        if self.severity is Severity.WARNING:
            return f"{where}: {self.rule}: warning: {self.message}"
        return f"{where}: {self.rule}: {self.message}"

    def as_dict(self) -> dict[str, str | int]:
        """A JSON-ready mapping (``severity`` as its string value)."""
        data = asdict(self)
        data["severity"] = self.severity.value
        return data
