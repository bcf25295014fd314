"""The integration tests stay on one xdist worker, one after another, as they would alone, and
after the fast tier.

``--dist loadgroup`` fails silently when it stops grouping (pytest 9.2 with pytest-xdist 3.8:
the tests are simply spread over the workers), and the suite then runs real-time calls, speech
models and Janus side by side. This runs pytest, with the suite's own options and marking
hook, on four small modules and checks where and in which order their tests ran.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.paths import ROOT

MODULE = """
import pytest

@pytest.mark.integration
def test_real_{n}() -> None:
    pass

def test_fast_{n}() -> None:
    pass
"""


def test_integration_tests_share_one_worker(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    integration: real parts\n", encoding="utf-8"
    )
    (tmp_path / "conftest.py").write_text(
        "from tests.tiers import pytest_collection_modifyitems  # noqa: F401\n",
        encoding="utf-8",
    )
    for n in range(4):
        (tmp_path / f"test_m{n}.py").write_text(MODULE.format(n=n), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    suite = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    options = shlex.split(suite["tool"]["pytest"]["ini_options"]["addopts"])
    assert "--no-loadscope-reorder" in options  # else xdist hands out the biggest group first

    def pytest(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *options, "-p", "no:cacheprovider", *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    order = [
        line for line in pytest("--collect-only", "-q", "-n", "0").splitlines() if "::" in line
    ]
    assert [("test_real_" in line) for line in order] == [False] * 4 + [True] * 4, order
    out = pytest("-v", "-n", "2")
    ran = re.findall(r"\[(gw\d)\] .*PASSED (\S+)", out)
    real = {worker for worker, test in ran if "test_real_" in test}
    assert len([t for _, t in ran if "test_real_" in t]) == 4, out
    assert len(real) == 1, f"the integration tests ran on {sorted(real)}:\n{out}"
