"""A new user's first campaign, exactly as the README and docs/campaigns.md show it.

The commands are read from the two documents (the ``bash`` blocks after their marker comments)
and run verbatim in a copy of the checkout's ``examples/``, ``flows/`` and ``prompts/``, with
``voicebot`` on the PATH and private data folders: a finished loopback campaign (real WebRTC
calls to the example personas on 127.0.0.1), its report and its exports. About a minute.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BLOCKS = [
    ("README.md", "<!-- first-campaign:"),
    ("docs/campaigns.md", "<!-- campaigns-guide:"),
    ("docs/campaigns.md", "<!-- campaigns-policy:"),
]
"""The documented blocks, in the order a reader meets them."""


def commands(document: Path, marker: str) -> list[str]:
    """The command lines of the ``bash`` block that follows ``marker`` (comments dropped)."""
    text = document.read_text(encoding="utf-8")
    assert marker in text, f"{document.name}: the marked block is gone"
    block = text.split(marker, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_documented_first_campaign_runs_verbatim(tmp_path: Path, repo_root: Path) -> None:
    clone = tmp_path / "checkout"
    for folder in ("examples", "flows", "prompts"):
        shutil.copytree(repo_root / folder, clone / folder)
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        **{k: str(tmp_path / k.lower()) for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME",
                                                   "XDG_CACHE_HOME")},
    }  # fmt: skip
    env.pop("VOICEBOT_DB", None)
    env.pop("VOICEBOT_POLICY", None)
    ran = []
    for document, marker in BLOCKS:
        for line in commands(repo_root / document, marker):
            done = subprocess.run(
                ["bash", "-c", line], cwd=clone, env=env, capture_output=True, text=True,
                timeout=600, check=False,
            )  # fmt: skip
            ran.append(line)
            assert done.returncode == 0, f"{document}: {line}\n{done.stdout}\n{done.stderr}"
            if "campaign run" in line and len(ran) < 5:
                said = done.stdout + done.stderr
                assert "5 contacts imported (US 5)" in said
                assert "read as US (default_region)" in said
                assert "contacts.csv:5:" in said  # the deliberately bad row, with its line
    assert len(ran) == 9
    # The last command: Ann's history, masked, with her attempt.
    assert "+1 202***0131" in done.stdout and "Attempts" in done.stdout

    rows = list(csv.DictReader((clone / "results.csv").open(encoding="utf-8")))
    by_name = {r["name"]: r for r in rows}
    assert by_name["Ann"]["last_outcome"] == "completed"
    assert by_name["Ann"]["flow.rating"] == "5"  # what the flow heard, per contact
    assert by_name["Bob"]["flow.rating"] == "2"
    assert by_name["Cy"]["last_outcome"] == "opted_out"
    assert by_name["Bob"]["last_outcome"] == "callback"
    assert by_name["Eve"]["last_outcome"] == "busy" and by_name["Eve"]["status"] == "waiting"
    assert next(r for r in rows if r["status"] == "rejected")["line"] == "5"
    assert all(r["number"].startswith(("+1 202***", "5***")) for r in rows)

    records = json.loads((clone / "results.json").read_text(encoding="utf-8"))
    assert len(records) == 6
    report = (clone / "examples" / "first-campaign-report.html").read_text(encoding="utf-8")
    for text in ("Not finished", "retry after busy", "What the outcomes mean", "America/New_York"):
        assert text in report, text
    assert (clone / "report.html").is_file()  # the rerun's report
