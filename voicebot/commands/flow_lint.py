"""``voicebot flow lint FILE...``: check flows against the calling rules before any call.

Output is one grep-able line per finding, ``file:line:col: rule: message`` (coloured only on a
terminal), then a summary. Exit status: 0 clean, 1 findings (warnings only with ``--strict``),
2 when a file cannot be loaded at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from voicebot.flow.lint import Finding, Severity
from voicebot.flow.lint import lint as lint_flow
from voicebot.flow.loader import load_flow
from voicebot.yamlsource import SourceError, SourceErrors

EXIT_FINDINGS = 1
EXIT_LOAD_ERROR = 2


def _expand(paths: tuple[Path, ...]) -> tuple[list[Path], list[SourceError]]:
    """Files as given; a directory stands for the ``*.yaml`` files directly in it (a directory
    without any is an error: "0 flows checked" must never pass)."""
    out: list[Path] = []
    empty: list[SourceError] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.yaml") if p.is_file())
            if not found:
                empty.append(SourceError(str(path), 1, 1, "", "directory holds no flow (*.yaml)"))
            out.extend(found)
        else:
            out.append(path)
    return out, empty


def _line(finding: Finding) -> str:
    colour = "red" if finding.severity is Severity.ERROR else "yellow"
    where = f"{finding.file}:{finding.line}:{finding.col}:"
    label = finding.rule if finding.severity is Severity.ERROR else f"{finding.rule}: warning"
    return f"{where} {click.style(label + ':', fg=colour, bold=True)} {finding.text}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@click.command("lint")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path),
)
@click.option("--json", "as_json", is_flag=True, help="Print findings as one JSON document.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option(
    "--prompts",
    "prompts_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory of <locale>.yaml prompt files (default: beside the flows).",
)
def lint_command(
    files: tuple[Path, ...], as_json: bool, strict: bool, prompts_dir: Path | None
) -> None:
    """Lint flow FILES (or every *.yaml in a directory) against the compliance rules."""
    findings: list[Finding] = []
    flows, load_errors = _expand(files)
    for path in flows:
        try:
            loaded = load_flow(path, prompts_dir)
        except SourceErrors as exc:
            load_errors.extend(exc.errors)
            continue
        findings.extend(lint_flow(loaded))
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    if as_json:
        document = {
            "files": [str(p) for p in flows],
            "load_errors": [
                {
                    "file": e.file,
                    "line": e.line,
                    "col": e.col,
                    "field": e.field,
                    "message": e.message,
                }
                for e in load_errors
            ],
            "findings": [f.as_dict() for f in findings],
            "errors": errors,
            "warnings": warnings,
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        for error in load_errors:
            click.echo(str(error))
        for finding in findings:
            click.echo(_line(finding))
        summary = (
            f"{_plural(len(flows), 'flow')} checked: {_plural(errors, 'error')}, "
            f"{_plural(warnings, 'warning')}"
        )
        if load_errors:
            summary += f", {_plural(len(load_errors), 'load error')}"
        click.echo(summary, err=True)
    if load_errors:
        raise SystemExit(EXIT_LOAD_ERROR)
    if errors or (strict and warnings):
        raise SystemExit(EXIT_FINDINGS)


lint = lint_command
