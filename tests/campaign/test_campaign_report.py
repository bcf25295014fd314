"""The HTML campaign report: self-contained, masked numbers only, every call and reason shown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from voicebot.campaign.report import write_report
from voicebot.campaign.results import CallResult, CampaignResults, TimelineEntry
from voicebot.outcomes import Outcome

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_report_shows_outcomes_blocks_and_timelines(tmp_path: Path) -> None:
    results = CampaignResults(
        name="spring",
        flow="marketing_offer",
        purpose="marketing",
        started_at=AT,
        calls=[
            CallResult(
                "138****8000",
                "presses_nine",
                AT,
                Outcome.OPTED_OUT,
                3.2,
                timeline=(
                    TimelineEntry(0.4, "prompt_start", "disclosure"),
                    TimelineEntry(1.9, "digit", "9"),
                ),
            ),
            CallResult(
                "139****9000",
                "night owl",
                AT,
                blocked=("window",),
                not_before=datetime(2026, 11, 24, 0, 0, tzinfo=UTC),
            ),
            CallResult(
                "137****7000",
                "<script>",
                AT,
                Outcome.REFUSED,
                6.0,
                qa_failures=("disclosure_late",),
            ),
        ],
        import_problems=["contacts.csv:4: not a valid number"],
    )
    html = write_report(results, tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html  # no scripts at all, and labels are escaped
    assert "&lt;script&gt;" in html
    for text in (
        "opted_out",
        "refused",
        "blocked: window",
        "138****8000",
        "disclosure",
        "contacts.csv:4",
        "disclosure_late",
        "<svg",
    ):
        assert text in html, text
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")


async def test_blocks_come_from_the_store_and_a_stopped_run_does_not_say_finished(
    tmp_path: Path,
) -> None:
    """The report once said "No dial was blocked." after the run printed "blocked (window)" (the
    contact was dialled later), and "finished" while a contact still waited for its retry."""
    from voicebot.campaign.results import PendingContact
    from voicebot.campaign.stored import blocked_counts
    from voicebot.compliance.gate import Gate
    from voicebot.compliance.policy import load_policy
    from voicebot.purpose import Purpose
    from voicebot.store import open_store

    store = await open_store(str(tmp_path / "r.db"))
    try:
        gate = Gate(store, load_policy())
        number = "+12025550141"  # Washington, DC: 03:00 local is outside the window
        night = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
        day = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
        blocked = await gate.check_and_reserve(number, "spring", Purpose.SURVEY, night)
        assert not blocked.allowed
        allowed = await gate.check_and_reserve(number, "spring", Purpose.SURVEY, day)
        assert allowed.allowed
        counts = await blocked_counts(store, "spring", since=night)
        assert counts == {"window": 1}
        assert await blocked_counts(store, "spring", since=day) == {}
    finally:
        await store.close()
    results = CampaignResults(
        name="spring", flow="f", purpose="survey", started_at=night, finished_at=day,
        calls=[CallResult("+1 202***0141", "Ann", day, Outcome.BUSY, 0.0,
                          zone="America/New_York")],
        blocks=counts,
        pending=[PendingContact("+1 202***0141", "Ann", day, "retry after busy")],
    )  # fmt: skip
    html = write_report(results, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No dial was blocked" not in html and "<td>window</td><td>1</td>" in html
    assert " · finished " not in html and " · stopped " in html and "Not finished" in html
    assert "retry after busy" in html
    assert "2026-11-24 11:00:00 <small>America/New_York</small>" in html  # local time, zoned


def test_legend_rates_expected_and_handoff_without_agent(tmp_path: Path) -> None:
    no_agent = (TimelineEntry(3.0, "handoff", "queue=sales accepted=False"),)
    results = CampaignResults(
        name="demo", flow="f", purpose="marketing", started_at=AT, finished_at=AT,
        calls=[
            CallResult("a", "interested", AT, Outcome.CALLBACK, 9.0, timeline=no_agent,
                       expected="handoff (no agent) -> callback", as_expected=True),
            CallResult("b", "presses_nine", AT, Outcome.OPTED_OUT, 2.0,
                       expected="opted_out", as_expected=True),
            CallResult("c", "busy", AT, Outcome.BUSY, expected="busy", as_expected=False),
            CallResult("d", "refuser", AT, Outcome.REFUSED, 4.0),
        ],
    )  # fmt: skip
    rates = results.rates()
    assert rates == {"answer": 0.75, "opt-out": 1 / 3, "refusal": 1 / 3, "handoff": 1 / 3}
    html = write_report(results, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "handoff (no agent) -&gt; callback" in html
    assert "What the outcomes mean" in html and "the line was busy" in html
    assert "answer rate <b>75%</b>" in html and "opt-out rate <b>33%</b>" in html
    assert "Expected vs actual" in html and "2 of 3 as expected" in html
    assert "<td>3.00s</td><td>handoff</td><td>queue=sales accepted=False</td>" in html
