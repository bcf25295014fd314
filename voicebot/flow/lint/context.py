"""What every lint rule needs: the loaded flow and a way to pin a finding to a position."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from voicebot.flow.lint.explore import explore
from voicebot.flow.lint.finding import Finding, Severity
from voicebot.flow.lint.paths import Exploration, Violation
from voicebot.flow.loader import LoadedFlow
from voicebot.flow.model import Flow
from voicebot.yamlsource import Path_


@dataclass(frozen=True)
class LintContext:
    """One flow under lint."""

    loaded: LoadedFlow

    @property
    def flow(self) -> Flow:
        """The validated flow."""
        return self.loaded.flow

    def finding(self, rule: str, severity: Severity, path: Path_, message: str) -> Finding:
        """A finding at ``path`` in the flow file (nearest written ancestor if not written)."""
        line, col = self.loaded.document.position(path)
        return Finding(self.loaded.document.file, line, col, rule, severity, message)

    @cached_property
    def exploration(self) -> Exploration:
        """Every path of the flow, searched once for all the rules that need it."""
        return explore(self.loaded)

    def violations(self, rule: str) -> Iterator[Finding]:
        """The exploration's violations of ``rule`` as findings with their counterexamples.

        The message names where the state is written and, for a prompt, where its text is (by
        file name only: the web designer shows messages, and server paths are not its business).
        """
        for v in self.exploration.violations:
            if v.rule != rule:
                continue
            where = []
            if v.state is not None:
                line, _ = self.loaded.document.position(("states", v.state))
                where.append(f"state {v.state!r} at {Path(self.loaded.document.file).name}:{line}")
            catalog = self.loaded.prompts
            document = catalog.document if catalog is not None else None
            if v.prompt is not None and document is not None and catalog and v.prompt in catalog:
                line, _ = document.position((v.prompt,))
                short = Path(document.file)
                where.append(f"prompt {v.prompt!r} at {short.parent.name}/{short.name}:{line}")
            message = f"{v.message} ({'; '.join(where)})" if where else v.message
            yield self.path_finding(v, message)

    def path_finding(self, v: Violation, message: str) -> Finding:
        """A finding at the violation's place, carrying its trace."""
        line, col = self.loaded.document.position(v.path)
        return Finding(
            self.loaded.document.file, line, col, v.rule, Severity.ERROR, message, v.trace
        )

    def prompt_finding(
        self, rule: str, severity: Severity, prompt_id: str, message: str
    ) -> Finding:
        """A finding at a prompt's line in ``prompts/<locale>.yaml``."""
        catalog = self.loaded.prompts
        if catalog is None or catalog.document is None:
            return self.finding(rule, severity, ("locale",), message)
        line, col = catalog.document.position((prompt_id,))
        return Finding(display_path(catalog.document.file), line, col, rule, severity, message)


def display_path(path: Path | str) -> str:
    """``path`` relative to the working directory when it is below it, for shorter messages."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


Check = Callable[[LintContext], Iterator[Finding]]
"""A rule's check: every finding it has for one flow."""


@dataclass(frozen=True)
class Rule:
    """A lint rule: a stable id (used in output, docs and tests) and its check."""

    id: str
    summary: str
    check: Check
