"""``flow graph --html`` renders in a real headless Chromium with every network request refused:
the diagram must not need the internet (it once loaded Mermaid from a CDN and, offline, showed
its source text twice)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.async_api import Route, async_playwright

from tests.browser_support import FLAGS, ensure_chromium
from voicebot.cli import cli
from voicebot.resources import flows_dir

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def test_the_diagram_renders_with_no_network(tmp_path: Path) -> None:
    page_file = tmp_path / "survey.html"
    written = CliRunner().invoke(
        cli, ["flow", "graph", str(flows_dir() / "satisfaction_survey.yaml"), "--html",
              str(page_file)],
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    refused: list[str] = []

    async def offline(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            await route.continue_()
        else:
            refused.append(url)
            await route.abort("internetdisconnected")

    executable = ensure_chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        try:
            page = await browser.new_page()
            await page.route("**/*", offline)
            await page.goto(page_file.as_uri())
            diagram = page.locator("pre.mermaid svg")
            await diagram.wait_for(state="attached", timeout=30_000)
            labels = await page.locator("pre.mermaid").inner_text()
            assert "ask_rating" in labels and "opt_out" in labels
            # The source is there for copying, folded away: the text is not shown twice.
            assert not await page.locator("#mermaid-source").is_visible()
        finally:
            await browser.close()
    assert refused == []
