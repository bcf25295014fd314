"""``voicebot demo``: zones chosen by the gate, a cast with expectations, and a real short run."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from voicebot.campaign import demo as sample
from voicebot.cli import cli
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.compliance.zones import parse_callee
from voicebot.store import Store, open_store


@pytest.fixture
async def gate(tmp_path: Path) -> AsyncIterator[Gate]:
    store: Store = await open_store(str(tmp_path / "g.db"))
    yield Gate(store, load_policy())
    await store.close()


async def test_regions_follow_the_sun(gate: Gate) -> None:
    # Monday 03:00 UTC: 11:00 in Shanghai (callable), night in London.
    day, night = await sample.pick_regions(gate, dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC))
    assert day.label.startswith("China") and night is not None and night.label.startswith("UK")
    # Monday 15:00 UTC: 23:00 in Shanghai (night), 15:00 in London (callable).
    day, night = await sample.pick_regions(gate, dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC))
    assert day.label.startswith("UK") and night is not None and night.label.startswith("China")


def test_cast_covers_every_case_with_valid_distinct_numbers() -> None:
    people = sample.cast(sample.REGIONS[0], sample.REGIONS[2])
    assert 20 <= len(people) <= 50
    numbers = [p.number for p in people]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        parse_callee(number)  # valid, with a known zone
    personas = {p.role.persona for p in people}
    assert {"presses_nine", "not_interested", "interested", "voicemail", "busy",
            "never_answers", "hangs_up_early"} <= personas  # fmt: skip
    assert sample.DNC_ROLE in {p.role for p in people}
    assert sample.NIGHT_ROLE in {p.role for p in people}
    assert sample.verdict(sample.DNC_ROLE, "blocked", ("dnc",))
    assert not sample.verdict(sample.DNC_ROLE, "blocked", ("window",))
    assert not sample.verdict(sample.CAST[0], "completed", ())
    interested = next(r for r in sample.CAST if r.persona == "interested")
    assert not sample.verdict(interested, "completed", (), handed_off=False)
    assert sample.verdict(interested, "completed", (), handed_off=True)


def test_a_short_demo_runs_real_calls_and_writes_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "--dir", str(tmp_path), "--personas", "presses_nine,busy,presses_one"]
    )
    assert result.exit_code == 0, result.output
    assert "as expected" in result.output and "every opt-out is on it: yes" in result.output
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "opted_out" in report and "dnc" in report and "window" in report
    contacts = (tmp_path / "contacts.csv").read_text(encoding="utf-8").splitlines()[1:]
    numbers = [line.split(",")[0] for line in contacts]
    for number in numbers:  # the report shows masked numbers only
        assert number not in report and number[1:] not in report
    assert re.search(r"\d{3}\*{3,4}\d{4}", report)
    with sqlite3.connect(tmp_path / "demo.db") as conn:
        listed = {n for (n,) in conn.execute("SELECT number FROM dnc_entries")}
        states = {s for (s,) in conn.execute("SELECT state FROM attempts")}
    nine = [line.split(",")[0] for line in contacts if line.endswith(",presses_nine")]
    assert set(nine) < listed  # the 9-pressers, plus the number listed before the run
    assert states == {"completed"}
    assert "queue=sales accepted=False" in report  # presses 1: no agent, the fallback ran
    # Recordings and transcripts exist only encrypted; no WAV or transcript text lies around.
    stored = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "vault").rglob("*.vbv"))
    assert any(name.endswith("recording.wav.vbv") for name in stored), stored
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".db":
            data = path.read_bytes()
            assert b"RIFF" not in data and b"WAVEfmt" not in data, path
    with sqlite3.connect(tmp_path / "demo.db") as conn:
        qa = {passed for (passed,) in conn.execute("SELECT passed FROM call_qa")}
    assert qa == {1}, "every answered demo call passes its QA checklist"
