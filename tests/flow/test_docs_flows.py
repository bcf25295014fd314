"""docs/flows.md documents every top-level field of a flow and the commands a designer uses."""

from __future__ import annotations

import re
from pathlib import Path

from voicebot.flow.model import Flow


def test_every_top_level_field_is_in_the_table(repo_root: Path) -> None:
    text = (repo_root / "docs" / "flows.md").read_text(encoding="utf-8")
    table = text.split("## Top-level fields", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE))
    assert set(Flow.model_fields) - documented == set()


def test_the_simulator_is_documented(repo_root: Path) -> None:
    text = (repo_root / "docs" / "flows.md").read_text(encoding="utf-8")
    for command in ("voicebot flow simulate", "--answered-by machine", "--input dtmf:"):
        assert command in text, command
