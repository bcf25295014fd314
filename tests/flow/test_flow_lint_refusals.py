"""Nothing dials a flow with lint errors, ``--dev`` or not: each command that places calls
refuses it with the findings, before any call, and so does the dialer's own preparation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.paths import ROOT
from voicebot.campaign.config import load_campaign
from voicebot.campaign.launch import prepare
from voicebot.cli import cli
from voicebot.flow.lint.refusal import LintRefused

FINDING = (
    "disclosure-first: prompt 'payment_reminder_identity_check' can be heard before the disclosure"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The payment reminder with its amount said before the disclosure, and a campaign."""
    (tmp_path / "prompts").mkdir()
    shutil.copy(ROOT / "prompts" / "en-US.yaml", tmp_path / "prompts" / "en-US.yaml")
    shutil.copy(ROOT / "prompts" / "zh-CN.yaml", tmp_path / "prompts" / "zh-CN.yaml")
    flow = (ROOT / "flows" / "payment_reminder.yaml").read_text(encoding="utf-8")
    lines = flow.splitlines()
    said = next(i for i, line in enumerate(lines) if "say: [disclosure" in line)
    lines[said] = lines[said].replace("say: [disclosure, ", "say: [").replace("]", ", disclosure]")
    (tmp_path / "reminder.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "contacts.csv").write_text(
        "number,name,amount,due_date,simulate\n+12025550101,Ann,12,2026-12-01,completed\n",
        encoding="utf-8",
    )
    (tmp_path / "camp.yaml").write_text(
        "name: refused\nflow: reminder.yaml\ncontacts: contacts.csv\n"
        'caller_id: "+12025550100"\ndefault_region: US\n'
        "transport: simulated\nsimulated_call_seconds: 0\n",
        encoding="utf-8",
    )
    return tmp_path


def _assert_refused(output: str) -> None:
    assert "lint error" in output and "refused" in output, output
    assert FINDING in output, output
    assert "Traceback" not in output


def test_the_broken_copy_really_fails_the_lint(project: Path) -> None:
    result = CliRunner().invoke(cli, ["flow", "lint", str(project / "reminder.yaml")])
    assert result.exit_code == 1 and FINDING in result.output, result.output


@pytest.mark.parametrize("dev", [[], ["--dev"]], ids=["approved-path", "dev"])
def test_campaign_run_refuses(project: Path, dev: list[str]) -> None:
    db = ["--db", str(project / "c.db")]
    result = CliRunner().invoke(
        cli, ["campaign", "run", str(project / "camp.yaml"), "--until-idle", *dev, *db]
    )
    assert result.exit_code == 1
    _assert_refused(result.output)
    assert "completed" not in result.output and not (project / "refused-report.html").exists()


@pytest.mark.parametrize("dev", [[], ["--dev"]], ids=["approved-path", "dev"])
def test_serve_campaign_refuses_before_listening(project: Path, dev: list[str]) -> None:
    db = ["--db", str(project / "c.db")]
    result = CliRunner().invoke(
        cli, ["serve", "--campaign", str(project / "camp.yaml"), "--port", "0", *dev, *db]
    )
    assert result.exit_code == 1
    _assert_refused(result.output)


def test_call_refuses_before_dialling(project: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["call", "+12025550143", "--flow", str(project / "reminder.yaml"),
         "--persona", "presses_nine", "--no-gate", "--contact", "name=Ann",
         "--contact", "amount=12", "--contact", "due_date=2026-12-01"],
    )  # fmt: skip
    assert result.exit_code == 1
    _assert_refused(result.output)
    assert "calling" not in result.output


def test_the_dialers_preparation_refuses(project: Path) -> None:
    with pytest.raises(LintRefused) as info:
        prepare(load_campaign(project / "camp.yaml"))
    assert any(FINDING in str(e) for e in info.value.errors)
    assert info.value.findings and all(f.rule for f in info.value.findings)
