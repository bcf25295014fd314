"""Warm handoff end to end, with the agent in a real headless Chromium.

A campaign dials a loopback persona who says she is interested; the bot hands her over; the
agent's console (signed in, available) pops with the call's context, masked; the agent accepts
with the browser's (fake) microphone; audio flows both ways, measured at both ends (the browser's
inbound level, and what the simulated caller hears); the agent hangs up and records the
disposition, which reaches the compliance rules. Screenshots of the console ringing and in call
go to ``tests.browser_support.screenshot_dir`` (``docs/screenshots`` only when refreshed).
Nothing the browser receives holds the full number.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet
from playwright.async_api import Page, Response, async_playwright, expect
from sqlalchemy import select

from tests.browser_support import (
    FLAGS,
    MEDIA_FLAGS,
    ensure_chromium,
    fake_audio_flag,
    screenshot_dir,
    write_tone,
)
from tests.paths import ROOT
from tests.web_support import PASSWORD
from voicebot.campaign.clock import RealClock
from voicebot.campaign.config import load_campaign
from voicebot.campaign.launch import Collector, dial, prepare
from voicebot.campaign.runner import SessionRunner
from voicebot.campaign.stored import campaign_calls
from voicebot.compliance.decision import Reason
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.handoff import Activity, AgentDesk
from voicebot.privacy.vault.keys import MasterKey
from voicebot.purpose import Purpose
from voicebot.sim.personas.book import load_personas
from voicebot.sim.personas.callee import PersonaCallee, PersonaDirectory
from voicebot.speech.asr.select import recognizer_for
from voicebot.speech.tts.select import synthesizer_for
from voicebot.store import Store, open_store
from voicebot.store.dispositions import CALL_DISPOSITIONS
from voicebot.store.models import ATTEMPTS
from voicebot.store.users import Role, add_user
from voicebot.telephony.loopback import Callee, LoopbackTransport
from voicebot.web.app import WebConfig, create_app
from voicebot.web.auth import Passwords

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CALLER = "+12025550147"  # reserved for fiction (555-01xx)
DIGITS = re.compile(r"2025550147|5550147")


class _Directory(PersonaDirectory):
    """Keeps the callee it hands out, so the test can ask what the caller heard."""

    callee: PersonaCallee | None = None

    def lookup(self, number: str) -> Callee | None:
        callee = super().lookup(number)
        if isinstance(callee, PersonaCallee):
            self.callee = callee
        return callee


def _campaign(tmp: Path) -> Path:
    (tmp / "contacts.csv").write_text(
        f"number,name,offer,persona\n{CALLER},Alex Morgan,the 50 GB plan,wants_an_advisor\n",
        encoding="utf-8",
    )
    path = tmp / "winter.yaml"
    path.write_text(
        f"name: winter\nflow: {(ROOT / 'flows' / 'upgrade_offer.yaml').as_posix()}\n"
        'contacts: contacts.csv\ncaller_id: "+12025550100"\ndefault_region: US\n'
        "transport: loopback\n",
        encoding="utf-8",
    )
    return path


def _policy(tmp: Path) -> Path:
    """Marketing calls allowed at any hour and on holidays: the test must not depend on when
    it runs (the windows themselves are tested elsewhere)."""
    path = tmp / "policy.yaml"
    path.write_text(
        "purposes:\n  marketing:\n"
        '    window: {start: "00:00", end: "23:59:59"}\n'
        "    holidays: {public: false, weekends: false, extra_dates: []}\n",
        encoding="utf-8",
    )
    return path


@contextlib.asynccontextmanager
async def console_server(tmp: Path, desk: AgentDesk) -> AsyncIterator[tuple[TestServer, Store]]:
    store = await open_store(str(tmp / "console.db"))
    passwords = Passwords.fast_for_tests()
    async with store.write() as conn:
        await add_user(
            conn, name="agent1", password_hash=passwords.hash(PASSWORD),
            roles=frozenset({Role.AGENT}), totp_secret=None, now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
    config = WebConfig(session_key=Fernet.generate_key(), passwords=passwords, desk=desk)
    server = TestServer(create_app(store, config), host="127.0.0.1")
    await server.start_server()
    try:
        yield server, store
    finally:
        await server.close()
        await store.close()


async def _wait_for(predicate: Any, seconds: float, what: str) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():
            await asyncio.sleep(0.1)
    assert predicate(), what


async def _peak(page: Page, selector: str, seconds: float, above: float) -> float:
    """The highest value of a level meter over ``seconds`` (stops early above ``above``)."""
    best = 0.0
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while loop.time() < until and best <= above:
        best = max(best, float(await page.eval_on_selector(selector, "m => m.value")))
        await asyncio.sleep(0.1)
    return best


async def test_agent_takes_a_handed_off_call_in_the_browser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEBOT_MASTER_KEY", MasterKey.generate().to_base64())
    executable = ensure_chromium()
    shots = screenshot_dir(tmp_path)
    mic = tmp_path / "agent-voice.wav"
    write_tone(mic, 600, 2.0)
    prepared = prepare(load_campaign(_campaign(tmp_path)))
    policy = load_policy(_policy(tmp_path))
    desk = AgentDesk(ring_seconds=60)
    received: list[str] = []

    async def keep(response: Response) -> None:
        if response.request.resource_type in ("document", "fetch", "xhr"):
            with contextlib.suppress(Exception):
                received.append(await response.text())

    async with console_server(tmp_path, desk) as (server, store), async_playwright() as pw:

        def url(path: str) -> str:
            return str(server.make_url(path))

        browser = await pw.chromium.launch(
            executable_path=executable, headless=True,
            args=[*FLAGS, *MEDIA_FLAGS, fake_audio_flag(mic)],
        )  # fmt: skip
        try:
            page = await browser.new_page(viewport={"width": 960, "height": 900})
            page.on("response", keep)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(url("/login"))
            await page.fill("input[name=name]", "agent1")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#sign-in")
            await expect(page).to_have_url(url("/console"))
            await page.click("#go-available")
            await expect(page.locator("#presence")).to_have_text("available")

            # The campaign dials; the caller says she is interested; the console rings.
            voice = await synthesizer_for("en-US")
            loaded = prepared.loaded
            assert loaded.prompts is not None
            await voice.render(
                loaded.prompts.render(loaded.flow.disclosure, {"company": loaded.flow.company})
            )  # pre-rendered, as `voicebot prompts render` does
            directory = _Directory({**load_personas()}, voice)
            directory.assign(CALLER, "wants_an_advisor")
            transport = LoopbackTransport(directory)
            gate = Gate(store, policy)
            runner = SessionRunner(
                transport, prepared.loaded, voice, recognizer_for("en-US"), vault=None
            )
            campaign = asyncio.create_task(
                dial(prepared, gate, runner, RealClock(), Collector(), desk=desk)
            )
            incoming = page.locator("#incoming")
            await expect(incoming).to_be_visible(timeout=90_000)
            await expect(page.locator("#in-number")).to_have_text("+1 202***0147")
            await expect(page.locator("#in-contact")).to_have_text("Alex Morgan")
            await expect(page.locator("#in-flow")).to_have_text("upgrade_offer")
            await expect(page.locator("#in-intent")).to_have_text(re.compile("interested|affirm"))
            await expect(page.locator("#in-reason")).to_contain_text("transfer")
            await expect(page.locator("#in-vars")).to_contain_text("offer: the 50 GB plan")
            await expect(page.locator("#in-transcript li").first).to_contain_text("Northwind")
            await expect(page.locator("#in-transcript")).to_contain_text(
                re.compile("tell me more", re.IGNORECASE)
            )
            await page.screenshot(path=str(shots / "console-ringing.png"), full_page=True)

            # Accept: the browser's audio connects and the caller is bridged.
            assert directory.callee is not None
            await page.click("#accept")
            await expect(page.locator("#activity")).to_have_attribute(
                "data-activity", "in_call", timeout=20_000
            )
            # The agent first hears the whisper (a summary only for them); then the bridge:
            # the caller hears the agent's microphone, the agent's browser hears the caller.
            callee = directory.callee
            heard_before = callee.loud_frames
            await _wait_for(
                lambda: callee.loud_frames - heard_before > 100, 20, "the caller hears the agent"
            )
            inbound = await _peak(page, "#level-in", 20, above=0.2)
            outbound = await _peak(page, "#level-out", 5, above=0.2)
            assert inbound > 0.2, f"the agent's browser heard the caller (peak {inbound})"
            assert outbound > 0.2, f"the agent's microphone is live (peak {outbound})"
            # The context the ringing panel showed stays in view during the call.
            await expect(page.locator("#in-title")).to_have_text("Call context")
            await expect(page.locator("#in-reason")).to_be_visible()
            await expect(page.locator("#in-reason")).to_contain_text("transfer")
            await expect(page.locator("#in-vars")).to_contain_text("offer: the 50 GB plan")
            await expect(page.locator("#in-transcript")).to_contain_text(
                re.compile("tell me more", re.IGNORECASE)
            )
            await expect(page.locator("#accept")).to_be_hidden()
            await page.screenshot(path=str(shots / "console-in-call.png"), full_page=True)

            # Hang up, wrap up: the disposition feeds the compliance rules.
            await page.click("#hang-up")
            await expect(page.locator("#wrapup")).to_be_visible(timeout=10_000)
            await page.select_option("#disposition", "do_not_call")
            await page.fill("#note", "asked not to be called again")
            await page.click("#save-disposition")
            await expect(page.locator("#message")).to_contain_text("Saved")
            await expect(page.locator("#activity")).to_have_attribute("data-activity", "idle")
            await asyncio.wait_for(campaign, 30)
            await transport.close()
            assert errors == []
        finally:
            await browser.close()

        assert desk.activity("agent1")[0] is Activity.IDLE
        async with store.engine.connect() as conn:
            outcomes = [r.outcome for r in await conn.execute(select(ATTEMPTS.c.outcome))]
            disposed = [
                (r.agent, r.disposition)
                for r in await conn.execute(
                    select(CALL_DISPOSITIONS.c.agent, CALL_DISPOSITIONS.c.disposition)
                )
            ]
        assert outcomes == ["handoff"]
        assert disposed == [("agent1", "do_not_call")]
        [call] = await campaign_calls(store, "winter")  # what an auditor sees
        assert call.outcome == "handoff" and call.disposition == "do_not_call"
        later = await gate.check(
            CALLER, Purpose.MARKETING, dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
        )
        assert Reason.DNC in later.reasons

    leaked = [body[:200] for body in received if DIGITS.search(body)]
    assert received and leaked == [], f"a full number reached the agent's browser: {leaked}"
    assert os.path.getsize(shots / "console-ringing.png") > 10_000
