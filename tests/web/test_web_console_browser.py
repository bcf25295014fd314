"""The agent console in a real headless Chromium (Debian's package, driven by Playwright): an agent
signs in, goes available, sees a waiting call arrive and leave (masked), and the idle console is
captured as ``console-idle.png`` (``tests.browser_support.screenshot_dir``: a temporary
folder, or ``docs/screenshots`` when refreshed on purpose).

Chromium comes from ``tests.browser_support`` (apt-get when missing; never skipped).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from playwright.async_api import Route, async_playwright, expect

from tests.browser_support import FLAGS, ensure_chromium, screenshot_dir
from tests.web_support import PASSWORD, running_app
from voicebot.handoff import HandoffOffer, Presence
from voicebot.web.keys import PRESENCE

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def test_agent_signs_in_goes_available_and_sees_calls_come_and_go(
    tmp_path: Path, repo_root: Path
) -> None:
    executable = ensure_chromium()
    screenshot = screenshot_dir(tmp_path) / "console-idle.png"
    async with running_app(tmp_path, repo_root / "flows") as app, async_playwright() as pw:
        browser = await pw.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "profile"),  # fresh profile
            executable_path=executable,
            headless=True,
            args=FLAGS,
            viewport={"width": 960, "height": 600},
        )
        try:
            page = browser.pages[0] if browser.pages else await browser.new_page()
            await page.goto(app.url("/console"))  # signed out: sent to the sign-in page
            await expect(page).to_have_url(app.url("/login"))
            await expect(page.locator("#totp-row")).to_be_hidden()  # only asked of admins
            await page.fill("input[name=name]", "agent1")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#sign-in")
            await expect(page).to_have_url(app.url("/console"))
            await expect(page.locator("#who")).to_have_text("agent1")
            await expect(page.locator("#presence")).to_have_text("away")
            # The call queued before sign-in is listed, masked.
            await expect(page.locator("#handoffs li")).to_have_count(1)
            await expect(page.locator("#handoffs li").first).to_contain_text("+86 138****8000")

            await page.click("#go-available")
            await expect(page.locator("#presence")).to_have_text("available")
            board = app.server.app[PRESENCE]
            assert board.available(app.clock()) == ["agent1"]  # the call side would offer calls

            await app.queue.withdraw("h1")  # the long poll wakes and the list empties
            await expect(page.locator("#handoffs li")).to_have_count(0)
            await expect(page.locator("#empty")).to_be_visible()
            await page.screenshot(path=str(screenshot))

            await app.queue.offer(
                HandoffOffer(
                    id="h2", number="+12025550123", flow="satisfaction_survey", queue="care",
                    reason="asked for a person", created_at=dt.datetime.now(dt.UTC),
                )
            )  # fmt: skip
            await expect(page.locator("#handoffs li")).to_have_count(1)
            await expect(page.locator("#handoffs li").first).to_contain_text("+1 202***0123")
            html = await page.content()
            assert "2025550123" not in html and "13800138000" not in html

            await page.click("#go-away")
            await expect(page.locator("#presence")).to_have_text("away")
            await page.click("#go-available")
            await expect(page.locator("#presence")).to_have_text("available")
            await page.click("#sign-out")
            await expect(page).to_have_url(app.url("/login"))
            entry = board.get("agent1")
            assert entry is not None and entry.status is Presence.AWAY  # signed out: no calls
        finally:
            await browser.close()
    assert screenshot.stat().st_size > 0


async def test_a_click_on_available_while_the_console_still_loads_is_not_lost(
    tmp_path: Path, repo_root: Path
) -> None:
    """The page's first answers are held back for a second: the agent's click on "Available"
    must wait for the button to be wired, not vanish while the page still says "away"."""
    executable = ensure_chromium()
    async with running_app(tmp_path, repo_root / "flows") as app, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(app.url("/login"))
            await page.fill("input[name=name]", "agent1")
            await page.fill("input[name=password]", PASSWORD)

            async def slow(route: Route) -> None:
                await asyncio.sleep(1.0)
                await route.continue_()

            await page.route("**/api/me", slow)
            await page.click("#sign-in")
            await expect(page).to_have_url(app.url("/console"))
            await page.click("#go-available", timeout=10_000)
            await expect(page.locator("#presence")).to_have_text("available")
            board = app.server.app[PRESENCE]
            assert board.available(app.clock()) == ["agent1"]
        finally:
            await browser.close()
