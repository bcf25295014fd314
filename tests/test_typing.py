"""mypy --strict holds over the engine and its tests (configured in pyproject.toml).

CI runs only pytest, so this test is where the type check runs; mypy keeps its cache in the
checkout's .mypy_cache (ignored by git), so a second run takes seconds.
"""

from __future__ import annotations

import subprocess
import sys

from tests.paths import ROOT


def test_mypy_strict_passes_over_voicebot_and_tests() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
