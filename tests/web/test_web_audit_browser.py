"""The auditor page in a real headless Chromium: an auditor signs in, lands on /audit, opens a
campaign's calls, reads a redacted transcript, plays a recording (the audited access) and opens
the report, which styles itself under its own CSP. Numbers stay masked on every screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect
from sqlalchemy import select

from tests.audited_campaign import CAMPAIGN, NUMBERS, seed_campaign
from tests.browser_support import FLAGS, ensure_chromium
from tests.web_support import PASSWORD, running_app
from voicebot.store.models import AUDIT_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def test_auditor_plays_a_recording_and_reads_the_report(
    tmp_path: Path, repo_root: Path
) -> None:
    executable = ensure_chromium()
    async with running_app(tmp_path, repo_root / "flows") as app, async_playwright() as pw:
        answered, _ = await seed_campaign(app, tmp_path)
        browser = await pw.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "profile"),
            executable_path=executable,
            headless=True,
            args=[*FLAGS, "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
            viewport={"width": 1200, "height": 700},
        )
        try:
            page = browser.pages[0] if browser.pages else await browser.new_page()
            await page.goto(app.url("/login"))
            await page.fill("input[name=name]", "auditor1")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#sign-in")
            await expect(page).to_have_url(app.url("/audit"))  # an auditor's home
            await expect(page.locator("#campaigns tr")).to_have_count(1)
            await expect(page.locator("#campaigns tr").first).to_contain_text(CAMPAIGN)

            await page.click("#campaigns button:text('Calls')")
            rows = page.locator("#calls tr")
            await expect(rows).to_have_count(2)
            first = rows.filter(has_text=str(answered)).first
            await expect(first).to_contain_text("202***0147")
            await expect(first).to_contain_text("fail: opt_out_instructions")

            await first.locator("button:text('Transcript')").click()
            await expect(page.locator("#transcript li")).to_have_count(2)
            await expect(page.locator("#transcript li").nth(1)).to_contain_text("[CARD]")

            await first.locator("button:text('Play')").click()
            await page.wait_for_function(
                "() => { const a = document.querySelector('#calls audio');"
                " return a !== null && a.readyState >= 1 && a.duration > 0.4; }"
            )
            html = await page.content()
            for number in NUMBERS:
                assert number[2:] not in html

            await page.goto(app.url(f"/api/campaigns/{CAMPAIGN}/report"))
            await expect(page.locator("h1")).to_have_text(f"Campaign {CAMPAIGN}")
            header = await page.evaluate(
                "getComputedStyle(document.querySelector('th')).backgroundColor"
            )
            assert header == "rgb(245, 245, 245)"  # its inline CSS applied under its CSP
            report = await page.content()
            for number in NUMBERS:
                assert number[2:] not in report
        finally:
            await browser.close()
        async with app.store.engine.connect() as conn:
            kinds = [
                r.kind
                for r in await conn.execute(select(AUDIT_EVENTS).order_by(AUDIT_EVENTS.c.seq))
            ]
    assert kinds.count("recording_accessed") == 1  # one play, one audited access
    assert "transcript_viewed" in kinds
    assert "report_viewed" in kinds
