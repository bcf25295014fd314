"""``voicebot demo``: zones chosen by the gate, a cast with expectations, and a real short run."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import phonenumbers
import pytest
from click.testing import CliRunner

from voicebot.campaign.queue import Entry, load
from voicebot.cli import cli
from voicebot.commands.demo import demo_keyring
from voicebot.compliance import dnc
from voicebot.compliance.decision import Reason
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.compliance.zones import parse_callee
from voicebot.privacy.redaction import Kind, redact
from voicebot.purpose import Purpose
from voicebot.sim import demo_campaign as sample
from voicebot.store import Store, open_store
from voicebot.store.campaigns import find_campaign_id


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


@pytest.mark.integration
def test_a_short_demo_runs_real_calls_and_writes_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "--dir", str(tmp_path), "--personas", "presses_nine,busy,presses_one"]
    )
    assert result.exit_code == 0, result.output
    assert "as expected" in result.output and "every opt-out is on it: yes" in result.output
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "opted_out" in report and "dnc" in report and "window" in report
    assert re.search(r"\d{3}\*{3,4}\d{4}", report)  # the report shows masked numbers
    assert "queue=sales accepted=False" in report  # presses 1: no agent, the fallback ran
    with sqlite3.connect(tmp_path / "demo.db") as conn:
        states = {s for (s,) in conn.execute("SELECT state FROM attempts")}
        qa = {passed for (passed,) in conn.execute("SELECT passed FROM call_qa")}
    assert states == {"completed"}
    assert qa == {1}, "every answered demo call passes its QA checklist"
    queue, listed = asyncio.run(_queue_and_dnc(tmp_path / "demo.db"))
    nine = {e.number for e in queue if e.fields.get("persona") == "presses_nine"}
    assert nine and nine < listed  # the 9-pressers, plus the number listed before the run
    # Recordings and transcripts exist, encrypted.
    stored = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "vault").rglob("*.vbv"))
    assert any(name.endswith("recording.wav.vbv") for name in stored), stored
    assert {e.number for e in queue} <= set(_cast_numbers()), "the scan must know every number"
    assert _personal_data_in(tmp_path) == []


async def _queue_and_dnc(db: Path) -> tuple[list[Entry], set[str]]:
    """The demo's contacts and do-not-call list, opened with the demo's own key."""
    store = await open_store(str(db), keyring=demo_keyring())
    try:
        # Whichever flow ran (marketing, or the notice on a holiday): look the campaign up.
        cid = await store.serialized(lambda conn: find_campaign_id(conn, sample.NAME))
        assert cid is not None
        return await load(store, cid), {e.number for e in await dnc.entries(store)}
    finally:
        await store.close()


def _cast_numbers() -> list[str]:
    """Every number the demo may have given its cast, whichever regions it picked."""
    return [r.number(i) for r in sample.REGIONS for i in range(len(sample.CAST) + 2)]


def _spellings(e164: str) -> set[str]:
    """A number's common written forms: +E.164, E.164 digits, national digits (with and without
    the trunk prefix: 13800138000, 02079460100 and 2079460100, 2025550100)."""
    parsed = phonenumbers.parse(e164)
    national = phonenumbers.national_significant_number(parsed)
    written = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return {e164, e164[1:], national, re.sub(r"\D", "", written)}


_WAVE = re.compile(rb"RIFF....WAVE", re.DOTALL)
_FLOAT = re.compile(r"\b\d{1,10}\.\d{10,}(?:[eE][-+]?\d+)?")
"""A float as Python writes it (QA timings in the database: ``1.0239607859998614``): its 16
fraction digits can pass the Luhn check, yet no card is ever written so."""
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?")
"""A date or time as the store writes it (``2026-12-06 22:33:55.459814``). A record's columns
follow one another with no separator, so a time, a local day and the next time run on into
20-odd digits joined by dashes and spaces, which pass the Luhn check at some times of day and
not at others: the scan read a card in them at 22:33."""
_HEX_ID = re.compile(r"(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{16,}")
"""A hex digest or key id (with a letter in it, so never a bare card number). In a database
record the next column follows with no separator, and a digest's last digits run on into a date
(``...b567382026-12-03``) that can pass the Luhn check."""


def _personal_data_in(root: Path) -> list[str]:
    """Everything in ``root`` that spells personal data: any written form of a cast number, a
    WAV header, an unredacted card or Chinese ID number (the redactor's own detectors)."""
    forms = {form for number in _cast_numbers() for form in _spellings(number)}
    hits = []
    files = [p for p in root.rglob("*") if p.is_file()]
    assert {"demo.db", "report.html"} <= {p.name for p in files}
    assert any(p.suffix == ".vbv" for p in files)
    for path in files:
        data = path.read_bytes()
        for form in forms:
            if any(f in data for f in (form.encode(), form.encode("utf-16-le"))):
                hits.append(f"{path.name}: number {form}")
        if _WAVE.search(data) or b"WAVEfmt" in data:
            hits.append(f"{path.name}: a WAV header")
        text = data.decode("utf-8", errors="replace")
        text = _HEX_ID.sub("<hex>", _FLOAT.sub("<float>", _TIMESTAMP.sub("<time>", text)))
        for finding in redact(text, "en-US").findings:
            if finding.kind in (Kind.CARD, Kind.CN_ID):
                hits.append(f"{path.name}: unredacted {finding.kind.value}")
    return hits


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    (tmp_path / "demo.db").write_bytes(b"\x00call 13800138000 back\x00")
    (tmp_path / "report.html").write_bytes(b"RIFF\x24\x08\x00\x00WAVEfmt ")
    (tmp_path / "vault").mkdir()
    (tmp_path / "vault" / "x.vbv").write_text("card 4111 1111 1111 1111, id 11010519491231002X")
    hits = _personal_data_in(tmp_path)
    assert "demo.db: number 13800138000" in hits
    assert "report.html: a WAV header" in hits
    assert {"x.vbv: unredacted CARD", "x.vbv: unredacted CN_ID"} <= set(hits)


def _rules_decide() -> sample.Decide:
    """The gate's rules for a number with no history, without a store: fast enough to ask
    about every hour of a year (checked against the real gate below)."""
    from voicebot.compliance.calendars import HolidayCalendar
    from voicebot.compliance.schedule import History, evaluate

    policy = load_policy()
    calendar = HolidayCalendar(policy.calendars)

    async def decide(number: str, purpose: Purpose, now: dt.datetime) -> tuple[Reason, ...]:
        rules = policy.for_purpose(purpose)
        return evaluate(parse_callee(number), rules, calendar, History(), now).reasons

    return decide


async def test_the_demo_finds_callees_at_every_hour_of_2026() -> None:
    """It once stopped on Christmas afternoon (UTC) and Thanksgiving evening: no zone was
    inside its marketing window on a working day. Every hour of 2026, on the simulated clock,
    it must find a flow and a zone to call."""
    from voicebot.campaign.clock import SimulatedClock

    clock = SimulatedClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    decide = _rules_decide()
    hours = 0
    purposes: dict[str, int] = {}
    async with clock.working():
        while clock.now().year == 2026:
            plan = await sample.plan_demo(decide, clock.now())  # raises if nobody is callable
            assert 8.5 <= sample._local_hour(plan.day, clock.now()) < 20.0
            purposes[plan.purpose.value] = purposes.get(plan.purpose.value, 0) + 1
            hours += 1
            await clock.sleep_until(clock.now() + dt.timedelta(hours=1))
    assert hours == 8760
    assert purposes["marketing"] > 8000  # the notice is the exception (holidays), not the rule
    assert 0 < purposes["notification"] < 200


@pytest.mark.parametrize(
    "at",
    [
        dt.datetime(2026, 12, 25, 14, 0, tzinfo=dt.UTC),  # Christmas afternoon (UTC)
        dt.datetime(2026, 11, 26, 21, 0, tzinfo=dt.UTC),  # Thanksgiving afternoon in the US
        dt.datetime(2026, 1, 1, 6, 0, tzinfo=dt.UTC),  # New Year's Day everywhere
        dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC),  # an ordinary Monday
    ],
)
async def test_holidays_get_the_notice_and_the_rules_agree_with_the_gate(
    gate: Gate, at: dt.datetime
) -> None:
    by_gate = await sample.plan_demo(sample.gate_decide(gate), at)
    by_rules = await sample.plan_demo(_rules_decide(), at)
    assert by_gate == by_rules
    ordinary = at.month == 11 and at.day == 23
    assert by_gate.purpose is (Purpose.MARKETING if ordinary else Purpose.NOTIFICATION)
    assert by_gate.flow.name == ("upgrade_offer.yaml" if ordinary else "plan_notice.yaml")
