"""ruff's lint rules and formatting hold over the engine, its tests and the benchmarks
(configured in pyproject.toml).

CI runs only pytest, so this test is where the style check runs, as ``test_typing`` is for mypy.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.paths import ROOT

PATHS = ["voicebot", "tests", "benchmarks"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_passes(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
