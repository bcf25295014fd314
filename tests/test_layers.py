"""The package layers in pyproject.toml hold: a package imports only the packages below it.

docs/architecture.md draws the same layers; this test is what keeps the drawing true.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command;"
            " sys.exit(lint_imports_command())",
            "--no-cache",
            "--no-logo",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_package_imports_only_the_layers_below_it() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("voicebot/store/models.py", "from voicebot.campaign.config import CampaignConfig\n"),
        ("voicebot/compliance/gate.py", "from voicebot.flow.model import Flow\n"),
    ],
)
def test_an_upward_import_breaks_the_contract(tmp_path: Path, module: str, line: str) -> None:
    """The contract is not vacuous: one import against the layers is reported by name."""
    copy = tmp_path / "repo"
    copy.mkdir()
    (copy / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    shutil.copytree(
        ROOT / "voicebot", copy / "voicebot", ignore=shutil.ignore_patterns("__pycache__")
    )
    target = copy / module
    target.write_text(line + target.read_text())
    result = _lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert module.removesuffix(".py").replace("/", ".") in result.stdout
