"""The Janus lab never installs system packages itself: it says what is missing and how to get
it; ``bench calls --transport janus`` says the same before any call starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from voicebot.cli import cli
from voicebot.sim.janus_lab import JanusLab, LabNotInstalled


def test_the_lab_says_what_is_missing_instead_of_installing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither janus nor sipp (nor apt-get) here
    with pytest.raises(LabNotInstalled) as caught, JanusLab(tmp_path):
        pass
    message = str(caught.value)
    assert "apt-get install janus sip-tester" in message
    assert "--install" in message


def test_bench_through_janus_without_the_lab_stops_with_the_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    args = ["bench", "calls", "--transport", "janus", "--concurrency", "1", "--seconds", "5"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "needs Debian's janus and sip-tester" in result.output
    assert "Traceback" not in result.output
