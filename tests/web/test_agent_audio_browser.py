"""The agent's audio in a real headless Chromium: ``agent_audio.js`` offers the (fake) microphone,
:func:`answer_browser` answers, and audio flows both ways over 127.0.0.1 only.

The page loads the module through the console's own ``/static/{name}`` route, so the content
type a browser needs for an ES module is checked too. Chromium comes from
``tests.browser_support`` (apt-get when missing; never skipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Page, async_playwright

from tests.audio_samples import loud_frames, peak_hz, speech
from tests.browser_support import FLAGS, MEDIA_FLAGS, ensure_chromium, fake_audio_flag, write_tone
from voicebot.telephony import CallState, HangupCause, Leg
from voicebot.telephony.browser import BrowserMedia, BrowserOfferError, answer_browser
from voicebot.web.routes.pages import STATIC_DIR

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CSRF = "test-csrf-token"
MIC_HZ = 700

PAGE = """<!doctype html>
<html><body><script type="module">
import { connectAgentAudio } from "/static/agent_audio.js";
window.connectAgentAudio = connectAgentAudio;
window.moduleLoaded = true;
</script></body></html>
"""


class AgentServer:
    """A tiny app: the page, the console's static route, and the offer endpoint."""

    def __init__(self) -> None:
        self.legs: asyncio.Queue[Leg] = asyncio.Queue()
        self.made: list[Leg] = []
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.page)
        app.router.add_static("/static", STATIC_DIR)  # the console's script, as files
        app.router.add_post("/offer", self.offer)
        app.router.add_post("/offer-elsewhere", self.offer_elsewhere)
        return app

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def offer(self, request: web.Request) -> web.Response:
        return await self._answer(request, BrowserMedia("127.0.0.1"))

    async def offer_elsewhere(self, request: web.Request) -> web.Response:
        """Media allowed only on a network the browser is not on: the offer is refused."""
        return await self._answer(
            request, BrowserMedia("127.0.0.1", (ipaddress.ip_network("127.9.9.0/24"),))
        )

    async def _answer(self, request: web.Request, media: BrowserMedia) -> web.Response:
        if request.headers.get("X-CSRF-Token") != CSRF:
            return web.json_response({"error": "csrf", "message": "bad CSRF token"}, status=403)
        body = await request.json()
        try:
            leg, answer = await answer_browser(body["sdp"], connect_timeout=10, media=media)
        except BrowserOfferError as exc:
            return web.json_response({"error": "validation", "message": str(exc)}, status=400)
        self.made.append(leg)
        await self.legs.put(leg)
        return web.json_response({"sdp": answer, "type": "answer"})


@pytest.fixture
async def server() -> AsyncIterator[AgentServer]:
    agent = AgentServer()
    runner = web.AppRunner(agent.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    agent.url = f"http://127.0.0.1:{port}"
    try:
        yield agent
    finally:
        for leg in agent.made:
            await leg.hangup()
        await runner.cleanup()


async def poll_max(page: Page, expression: str, seconds: float) -> float:
    """The largest value ``expression`` takes in the page over ``seconds``."""
    best = 0.0
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while loop.time() < until:
        best = max(best, float(await page.evaluate(expression)))
        await asyncio.sleep(0.05)
    return best


ICE_PAIRS = """async () => {
  const stats = await window.agent.pc.getStats();
  const ends = (pair) => ({
    local: stats.get(pair.localCandidateId), remote: stats.get(pair.remoteCandidateId),
  });
  let selected = null;
  const answered = [];
  stats.forEach((s) => {
    if (s.type === "transport") selected = ends(stats.get(s.selectedCandidatePairId));
    if (s.type === "candidate-pair" && s.responsesReceived > 0) {
      answered.push(ends(s).local.address);
    }
  });
  return { selected, answered };
}"""
"""The pair Chromium sends media on, and its local addresses that got an answer to a check."""


@contextlib.asynccontextmanager
async def agent_page(server: AgentServer, *extra_flags: str) -> AsyncIterator[Page]:
    """A fresh headless Chromium with the page loaded and ``connectAgentAudio`` imported."""
    executable = ensure_chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=executable, headless=True, args=[*FLAGS, *MEDIA_FLAGS, *extra_flags]
        )
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(server.url + "/")
            await page.wait_for_function("window.moduleLoaded === true", timeout=10_000)
            yield page
            assert errors == []
        finally:
            await browser.close()


async def connect(page: Page, server: AgentServer) -> Leg:
    """Run ``connectAgentAudio`` in the page; the server's leg, once answered."""
    await page.evaluate(
        "async (t) => { window.agent = await connectAgentAudio('/offer', t); }", CSRF
    )
    leg = await asyncio.wait_for(server.legs.get(), 5)
    async with asyncio.timeout(10):
        assert await leg.wait_answered()
    assert leg.state is CallState.ANSWERED
    return leg


async def test_agent_hears_the_bot_and_the_bot_hears_the_agents_microphone(
    tmp_path: Path, server: AgentServer
) -> None:
    mic = tmp_path / "mic.wav"
    write_tone(mic, MIC_HZ, 2.0)
    voice = speech("Hello, this is the bot. I am connecting you to the caller now.")
    async with agent_page(server, fake_audio_flag(mic)) as page:
        leg = await connect(page, server)

        # Media stays on loopback: both ends of the pair Chromium chose are 127.0.0.1, and
        # the checks it sent from its other addresses (192.0.2.x, ::1) were never answered.
        pairs: dict[str, Any] = await page.evaluate(ICE_PAIRS)
        selected = pairs["selected"]
        assert selected["local"]["address"] == selected["remote"]["address"] == "127.0.0.1"
        assert selected["local"]["protocol"] == "udp"
        assert set(pairs["answered"]) == {"127.0.0.1"}

        # Before the bot speaks the agent hears silence (the leg sends digital silence) ...
        assert await poll_max(page, "agent.inboundLevel()", 0.5) < 0.002
        # ... then the bot's speech arrives with energy in the browser.
        talking = asyncio.create_task(leg.play(voice))
        try:
            heard = await poll_max(page, "agent.inboundLevel()", 2.0)
        finally:
            leg.interrupt()
            await talking
        assert heard > 0.02, f"inbound RMS {heard:.4f}: the bot was not heard in the browser"

        # The fake microphone's tone reaches leg.audio() as 8 kHz frames.
        assert await poll_max(page, "agent.outboundLevel()", 0.5) > 0.03
        async with asyncio.timeout(10):
            pcm = await loud_frames(leg, 25, above_dbfs=-35)
        assert abs(peak_hz(pcm) - MIC_HZ) < 20

        await page.evaluate("agent.hangUp()")
        async with asyncio.timeout(3):  # DTLS close_notify, not ICE consent expiry (30 s)
            assert await leg.wait_ended() is HangupCause.REMOTE
        assert await page.evaluate("agent.pc.connectionState") == "closed"


async def test_the_bot_hanging_up_closes_the_agents_side(server: AgentServer) -> None:
    async with agent_page(server) as page:
        leg = await connect(page, server)
        await leg.hangup()
        assert leg.cause is HangupCause.LOCAL
        # The page learns it (its `closed` promise settles) and releases the microphone.
        await page.wait_for_function("window.agent.pc.signalingState === 'closed'", timeout=5_000)
        await page.evaluate("agent.closed")
        assert await page.evaluate(
            "agent.pc.getSenders().every((s) => !s.track || s.track.readyState === 'ended')"
        )


async def test_a_refused_offer_rejects_with_the_servers_reason(server: AgentServer) -> None:
    async with agent_page(server) as page:
        message = await page.evaluate(
            """async (t) => {
              try { await connectAgentAudio('/offer-elsewhere', t); return 'connected'; }
              catch (e) { return e.message; }
            }""",
            CSRF,
        )
        assert message.startswith("the bot refused the audio connection: no ICE candidate")
        assert "127.9.9.0/24" in message
        forbidden = await page.evaluate(
            """async () => {
              try { await connectAgentAudio('/offer', 'wrong'); return 'connected'; }
              catch (e) { return e.message; }
            }"""
        )
        assert forbidden == "the bot refused the audio connection: bad CSRF token"
    assert server.legs.empty(), "a refused offer must not make a leg"
