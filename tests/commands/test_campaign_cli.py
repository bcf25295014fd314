"""``voicebot campaign run|status|results`` on the simulated media layer, through the CLI."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.paths import ROOT
from voicebot.cli import cli


def _files(tmp: Path) -> tuple[Path, list[str]]:
    (tmp / "policy.yaml").write_text(
        'purposes:\n  notification:\n    window: {start: "00:00", end: "23:59:59"}\n',
        encoding="utf-8",
    )
    (tmp / "contacts.csv").write_text(
        "number,name,simulate\n"
        "+12025550101,Ann,completed\n"
        "202-555-0102,Bob,opted_out\n"
        "+12025550101,Ann again,completed\n"
        "12345,Nobody,completed\n"
        "+12025550103,Cy,busy\n",
        encoding="utf-8",
    )
    camp = tmp / "camp.yaml"
    camp.write_text(
        f"name: clitest\nflow: {(ROOT / 'flows' / 'payment_reminder.yaml').as_posix()}\n"
        'contacts: contacts.csv\ncaller_id: "+12025550100"\ndefault_region: US\n'
        "transport: simulated\nsimulated_call_seconds: 0\n",
        encoding="utf-8",
    )
    return camp, ["+12025550101", "+12025550102", "+12025550103"]


def test_run_status_and_results(tmp_path: Path) -> None:
    camp, numbers = _files(tmp_path)
    db = ["--db", str(tmp_path / "c.db")]
    runner = CliRunner()
    flow = str(ROOT / "flows" / "payment_reminder.yaml")
    refused = runner.invoke(cli, ["campaign", "run", str(camp), "--until-idle", *db])
    assert refused.exit_code != 0 and "not approved" in refused.output.lower(), refused.output
    assert "voicebot flow approve" in refused.output
    added = runner.invoke(
        cli, ["users", "add", "Dana", "--role", "designer", "--password-stdin", *db],
        input="a long enough passphrase 42\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    approved = runner.invoke(cli, ["flow", "approve", flow, "--reviewer", "Dana", *db])
    assert approved.exit_code == 0, approved.output
    ran = runner.invoke(
        cli,
        ["campaign", "run", str(camp), "--until-idle", "--policy", str(tmp_path / "policy.yaml"),
         "--report", str(tmp_path / "r.html"), "--max-concurrent", "2", *db],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "contacts.csv:5" in ran.output and "contacts.csv:4: same number as line 2" in ran.output
    assert "+1 202***0102: opted_out" in ran.output
    for number in numbers:
        assert number not in ran.output
    assert (tmp_path / "r.html").is_file()

    status = runner.invoke(cli, ["campaign", "status", "clitest", "--json", *db])
    assert status.exit_code == 0, status.output
    summary = json.loads(status.output)
    assert summary["contacts"] == 3 and summary["open_attempts"] == 0
    assert summary["states"] == {"done": 2, "waiting": 1}  # busy: retry planned
    assert summary["last_outcomes"] == {"completed": 1, "opted_out": 1, "busy": 1}
    assert summary["running"] is None  # the run ended and gave its lease back

    masked = runner.invoke(cli, ["campaign", "results", "clitest", *db])
    rows = list(csv.DictReader(io.StringIO(masked.output)))
    assert [r["number"] for r in rows] == ["+1 202***0101", "+1 202***0102", "+1 202***0103"]
    assert rows[2]["next_due"] and rows[2]["last_outcome"] == "busy"
    shown = runner.invoke(
        cli, ["campaign", "results", "clitest", "--format", "json", "--show-numbers", *db]
    )
    assert [r["number"] for r in json.loads(shown.output)] == numbers

    assert "--dev" not in (tmp_path / "r.html").read_text(encoding="utf-8")

    unknown = runner.invoke(cli, ["campaign", "status", "nope", *db])
    assert unknown.exit_code != 0 and "no campaign named 'nope'" in unknown.output


def test_dev_runs_an_unapproved_flow_and_says_so(tmp_path: Path) -> None:
    camp, _ = _files(tmp_path)
    report = tmp_path / "dev.html"
    ran = CliRunner().invoke(
        cli,
        ["campaign", "run", str(camp), "--until-idle", "--dev", "--report", str(report),
         "--db", str(tmp_path / "d.db")],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "--dev: running an unapproved flow" in ran.output
    assert "--dev" in report.read_text(encoding="utf-8")
    with sqlite3.connect(tmp_path / "d.db") as conn:
        kinds = {k for (k,) in conn.execute("SELECT kind FROM audit_events")}
    assert "flow_unapproved_dev" in kinds


def test_a_broken_campaign_file_is_reported_with_its_position(tmp_path: Path) -> None:
    camp, _ = _files(tmp_path)
    camp.write_text(camp.read_text(encoding="utf-8") + "pacing: {max_concurrent: 0}\n")
    result = CliRunner().invoke(cli, ["campaign", "run", str(camp), "--db", str(tmp_path / "x.db")])
    assert result.exit_code != 0
    assert f"{camp}:8" in result.output and "max_concurrent" in result.output
    assert not (tmp_path / "x.db").exists()


@pytest.mark.integration
def test_a_run_waiting_for_a_retry_says_what_and_until_when(tmp_path: Path) -> None:
    """`campaign run` once waited silently for a retry or callback planned hours later."""
    import os
    import signal
    import subprocess
    import sys
    import threading

    camp, _ = _files(tmp_path)
    env = {**os.environ, **{k: str(tmp_path / k) for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}}
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicebot", "campaign", "run", str(camp), "--dev",
         "--policy", str(tmp_path / "policy.yaml"), "--db", str(tmp_path / "w.db")],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    guard = threading.Timer(60, proc.kill)  # a silent wait must fail the test, not hang it
    guard.start()
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("waiting:"):
                break
    finally:
        guard.cancel()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    said = seen[-1] if seen else ""
    assert said.startswith("waiting: next is +1 202***0103 (retry after busy)"), seen
    assert "UTC), in 14 min" in said or "UTC), in 15 min" in said
    assert "--until-idle" in said


def test_results_carry_the_contacts_columns_and_the_rejected_rows(tmp_path: Path) -> None:
    """The export once had no contact columns (who confirmed?) and lost the rejected row."""
    camp, _ = _files(tmp_path)
    db = ["--db", str(tmp_path / "x.db")]
    runner = CliRunner()
    ran = runner.invoke(
        cli,
        ["campaign", "run", str(camp), "--until-idle", "--dev", "--policy",
         str(tmp_path / "policy.yaml"), "--report", str(tmp_path / "r.html"), *db],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    by_name = runner.invoke(cli, ["campaign", "results", "clitest", *db])
    rows = list(csv.DictReader(io.StringIO(by_name.output)))
    assert [(r["line"], r["name"], r["simulate"]) for r in rows] == [
        ("2", "Ann", "completed"), ("3", "Bob", "opted_out"), ("6", "Cy", "busy"),
    ]  # fmt: skip
    by_file = runner.invoke(cli, ["campaign", "results", str(camp), "--format", "json", *db])
    assert by_file.exit_code == 0, by_file.output
    records = json.loads(by_file.output)
    assert [r["line"] for r in records] == [2, 3, 5, 6]
    bad = records[2]
    assert bad["status"] == "rejected" and bad["number"] == "1***5" and "length" in bad["note"]
    assert "12345" not in by_file.output
