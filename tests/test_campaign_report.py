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
