"""Nothing dials, and nobody approves, a flow with lint errors.

Every path that places calls (``voicebot call``, ``campaign run``, ``serve --campaign``, the
dialer behind them) and ``flow approve`` call :func:`require_clean`. ``--dev`` may skip the
approval, never this: the lint is what a flow designer and the business were promised.
"""

from __future__ import annotations

from voicebot.flow.lint import LINT_VERSION, Finding, Severity, lint
from voicebot.flow.loader import LoadedFlow
from voicebot.yamlsource import SourceError, SourceErrors


class LintRefused(SourceErrors):
    """The flow has lint errors; ``findings`` are all of them (warnings left out)."""

    def __init__(self, loaded: LoadedFlow, findings: list[Finding]) -> None:
        self.findings = findings
        head = SourceError(
            str(loaded.path),
            1,
            1,
            "",
            f"refused: flow {loaded.name!r} has {len(findings)} lint error"
            f"{'' if len(findings) == 1 else 's'} (lint {LINT_VERSION}); fix them, see "
            "`voicebot flow lint`",
        )
        errors = [SourceError(f.file, f.line, f.col, f.rule, f.text) for f in findings]
        super().__init__([head, *errors])


def lint_errors(loaded: LoadedFlow) -> list[Finding]:
    """The flow's lint errors (warnings do not block)."""
    return [f for f in lint(loaded) if f.severity is Severity.ERROR]


def require_clean(loaded: LoadedFlow) -> None:
    """Raise :class:`LintRefused` when the flow has any lint error."""
    errors = lint_errors(loaded)
    if errors:
        raise LintRefused(loaded, errors)
