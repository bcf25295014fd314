"""Campaign files: defaults, retry rules, and errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.campaign.config import load_campaign
from voicebot.outcomes import Outcome
from voicebot.yamlsource import SourceErrors


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "flow.yaml").write_text("x: 1\n", encoding="utf-8")
    (tmp_path / "contacts.csv").write_text("phone\n13800138000\n", encoding="utf-8")
    path = tmp_path / "campaign.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: spring-offer\nflow: flow.yaml\ncontacts: contacts.csv\n"
        "caller_id: '+8675512345678'\n",
    )
    campaign = load_campaign(path)
    assert campaign.flow == tmp_path.resolve() / "flow.yaml"
    assert campaign.retry[Outcome.BUSY].max == 2
    assert campaign.pacing.max_concurrent == 4


def test_retrying_a_refusal_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: c\nflow: flow.yaml\ncontacts: contacts.csv\n"
        "caller_id: '+8675512345678'\nretry:\n  refused: {after: 600, max: 1}\n",
    )
    with pytest.raises(SourceErrors, match=r"campaign.yaml:5:\d+: retry: .*never retried"):
        load_campaign(path)


def test_missing_contacts_file_points_at_the_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "name: c\nflow: flow.yaml\ncontacts: nope.csv\ncaller_id: '+8675512345678'\n"
    )
    with pytest.raises(SourceErrors, match=r"campaign.yaml:3:1: contacts: no such file"):
        load_campaign(path)
