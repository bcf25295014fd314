"""The integration tests stay on one xdist worker, one after another, as they would alone.

``--dist loadgroup`` fails silently when it stops grouping (pytest 9.2 with pytest-xdist 3.8:
the tests are simply spread over the workers), and the suite then runs real-time calls, speech
models and Janus side by side. This runs pytest on two small modules with the suite's own
marking hook and checks where their tests ran.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v",
         "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ran = re.findall(r"\[(gw\d)\] .*PASSED (\S+)", done.stdout)
    real = {worker for worker, test in ran if "test_real_" in test}
    assert len([t for _, t in ran if "test_real_" in t]) == 4, done.stdout
    assert len(real) == 1, f"the integration tests ran on {sorted(real)}:\n{done.stdout}"
