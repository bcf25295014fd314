"""Integration: ``voicebot bench calls --transport janus`` runs real calls through Janus and
prints the loopback bench's figures plus Janus's own CPU (figures only: nothing is timed)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from voicebot.cli import cli

pytestmark = [pytest.mark.integration, pytest.mark.janus, pytest.mark.timeout(180)]


def test_bench_calls_through_janus_prints_every_figure() -> None:
    args = ["bench", "calls", "--transport", "janus", "--install", "--concurrency", "2"]
    result = CliRunner().invoke(cli, [*args, "--seconds", "5"])
    assert result.exit_code == 0, (result.output, result.exception)
    for figure in (
        "CPU per call: bot",
        "RSS before / per call",
        "answer -> disclosure",
        "reply to words in bot log",
        "do-not-call committed",
        "event-loop lag",
        "Janus CPU per call",
        "opted_out",
    ):
        assert figure in result.output, figure
