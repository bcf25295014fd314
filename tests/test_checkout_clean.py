"""The suite must leave the checkout as it found it: tests write into temporary folders, and
the docs' screenshots change only when refreshed on purpose (``scripts/refresh-screenshots``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser_support import SCREENSHOTS_ENV, screenshot_dir
from tests.paths import ROOT

TESTS = ROOT / "tests"


def test_screenshots_go_to_a_temporary_folder_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo_root: Path
) -> None:
    monkeypatch.delenv(SCREENSHOTS_ENV, raising=False)
    folder = screenshot_dir(tmp_path)
    assert folder.is_relative_to(tmp_path)
    assert not folder.is_relative_to(repo_root)
    monkeypatch.setenv(SCREENSHOTS_ENV, str(tmp_path / "docs-shots"))
    assert screenshot_dir(tmp_path) == tmp_path / "docs-shots"


def test_no_test_writes_into_the_docs_screenshots() -> None:
    """Every browser test takes its folder from ``screenshot_dir``; none names the docs' one."""
    into_docs = re.compile(r"""["']docs["']\s*\)?\s*/\s*["']screenshots|docs/screenshots/\w""")
    offenders = [
        path.name
        for path in TESTS.rglob("test_*.py")
        if path.name != Path(__file__).name and into_docs.search(path.read_text("utf-8"))
    ]
    assert offenders == []


def test_refresh_script_exists_and_targets_the_docs(repo_root: Path) -> None:
    script = repo_root / "scripts" / "refresh-screenshots"
    text = script.read_text("utf-8")
    assert f"{SCREENSHOTS_ENV}=" in text and "docs/screenshots" in text
    assert script.stat().st_mode & 0o111
