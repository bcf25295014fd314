"""``voicebot campaign run|status|results`` on the simulated media layer, through the CLI."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from voicebot.cli import cli

ROOT = Path(__file__).resolve().parent.parent


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
    assert "202***0102: opted_out" in ran.output
    for number in numbers:
        assert number not in ran.output
    assert (tmp_path / "r.html").is_file()

    status = runner.invoke(cli, ["campaign", "status", "clitest", "--json", *db])
    assert status.exit_code == 0, status.output
    summary = json.loads(status.output)
    assert summary["contacts"] == 3 and summary["open_attempts"] == 0
    assert summary["states"] == {"done": 2, "waiting": 1}  # busy: retry planned
    assert summary["last_outcomes"] == {"completed": 1, "opted_out": 1, "busy": 1}

    masked = runner.invoke(cli, ["campaign", "results", "clitest", *db])
    rows = list(csv.DictReader(io.StringIO(masked.output)))
    assert [r["number"] for r in rows] == ["202***0101", "202***0102", "202***0103"]
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
