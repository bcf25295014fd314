"""Warm handoff on a live call, over real aiortc media: the caller presses 1, hears hold audio,
an agent accepts, hears the whisper, and caller and agent hear each other while the bot stays
out of the way and the recording goes on. Then the agent's disposition reaches the store.

The agent's audio leg here is a second loopback peer (a stand-in for the browser, which the
console's browser test covers); everything else is the real call path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import wave

import numpy as np
import pytest

from tests.paths import FLOWS
from voicebot.audio import FRAME_SAMPLES, Pcm, rms_dbfs
from voicebot.call.recording import MemorySink
from voicebot.call.session import CallHooks, CallSession
from voicebot.call.transfer import ConnectedAgent, TransferAsk
from voicebot.compliance.dispositions import Disposition
from voicebot.eventlog import CallEvent
from voicebot.flow.loader import load_flow
from voicebot.handoff import Activity, AgentDesk, DispositionRecord
from voicebot.handoff.offers import offer_for
from voicebot.handoff.presence import Presence
from voicebot.outcomes import Outcome
from voicebot.sim.personas.book import load_personas
from voicebot.sim.personas.callee import PersonaCallee, PersonaDirectory
from voicebot.sim.personas.model import Persona, Step
from voicebot.speech.tts.piper import PiperSynthesizer
from voicebot.telephony.leg import Leg
from voicebot.telephony.loopback import (
    Callee,
    IncomingCall,
    LoopbackTransport,
    Ring,
    RingAction,
    StaticDirectory,
)

pytestmark = pytest.mark.integration

CALLER = "+12025550147"
AGENT_LINE = "+12025550188"
LOUD_DBFS = -45.0

WANTS_A_PERSON = Persona(
    ring_seconds=0.5,
    script=[
        Step(wait_for_bot=1),
        Step(press="1"),
        Step(wait=9),  # on hold, then talking to the agent
        Step(say="Hello, yes, I would like the bigger plan please."),
        Step(wait=1),
        Step(say="Can you tell me the price of the bigger plan?"),
    ],
)


class _Directory(PersonaDirectory):
    """Keeps the callee it hands out, so the test can ask what it heard."""

    callee: PersonaCallee | None = None

    def lookup(self, number: str) -> Callee | None:
        callee = super().lookup(number)
        assert isinstance(callee, PersonaCallee)
        self.callee = callee
        return callee


class _Agent(Callee):
    """The agent's end: listens first (the whisper), then talks (a steady tone) until hung up."""

    def __init__(self) -> None:
        self.heard: list[tuple[float, float]] = []  # (loop time, dBFS)
        self.talking_from: float | None = None

    def ring(self, call: IncomingCall) -> Ring:
        return Ring(RingAction.ANSWER)

    async def talk(self, leg: Leg) -> None:
        loop = asyncio.get_running_loop()

        async def listen() -> None:
            async for frame in leg.audio():
                self.heard.append((loop.time(), rms_dbfs(frame)))

        listening = asyncio.create_task(listen())
        await asyncio.sleep(4)  # the whisper comes first
        self.talking_from = loop.time()
        t = np.arange(FRAME_SAMPLES * 50) / 8000
        voice: Pcm = (0.3 * 32767 * np.sin(2 * np.pi * 330 * t)).astype(np.int16)
        while leg.state.value == "answered":
            await leg.play(voice, interruptible=False)
        listening.cancel()


async def test_an_agent_takes_the_call_and_both_hear_each_other() -> None:
    voice = PiperSynthesizer()
    directory = _Directory({**load_personas(), "wants_a_person": WANTS_A_PERSON}, voice)
    directory.assign(CALLER, "wants_a_person")
    callers = LoopbackTransport(directory)
    agent = _Agent()
    agents = LoopbackTransport(StaticDirectory({AGENT_LINE: agent}))
    loaded = load_flow(FLOWS / "upgrade_offer.yaml")
    desk = AgentDesk()
    desk.set_presence("agent1", Presence.AVAILABLE)
    dispositions: list[DispositionRecord] = []

    async def on_disposition(record: DispositionRecord) -> None:
        dispositions.append(record)

    async def handoff(ask: TransferAsk) -> ConnectedAgent | None:
        offer = offer_for(
            ask, offer_id="call-1", number=CALLER, locale="en-US",
            created_at=dt.datetime.now(dt.UTC), campaign="winter", contact="Alex",
        )  # fmt: skip
        return await desk.request(offer, ask.handoff.timeout, on_disposition)

    async def opt_out() -> None:
        raise AssertionError("nobody opted out")

    assert loaded.prompts is not None
    disclosure = loaded.prompts.render(loaded.flow.disclosure, {"company": loaded.flow.company})
    await voice.render(disclosure)  # pre-rendered, as `voicebot prompts render` does
    sink = MemorySink()
    try:
        leg = await callers.dial(CALLER, "+12025550100", timeout=10)
        session = CallSession(
            leg, loaded, voice, None, CallHooks(opt_out, handoff=handoff),
            variables={"name": "Alex", "offer": "the 50 GB plan"}, recording=sink,
        )  # fmt: skip
        call = asyncio.create_task(session.run())
        async with asyncio.timeout(40):
            while desk.activity("agent1")[0] is not Activity.RINGING:
                await asyncio.sleep(0.05)
        _, offer = desk.activity("agent1")
        assert offer is not None and offer.contact == "Alex" and offer.intent is None
        assert offer.context["offer"] == "the 50 GB plan" and offer.queue == "sales"
        assert any(speaker == "bot" for speaker, _ in offer.transcript)
        assert directory.callee is not None
        on_hold_from = directory.callee.loud_frames
        await asyncio.sleep(2)
        assert directory.callee.loud_frames > on_hold_from + 10, "the caller hears hold audio"

        agent_leg = await agents.dial(AGENT_LINE, "+12025550100", timeout=5)
        assert await agent_leg.wait_answered()
        await desk.accept("call-1", "agent1", agent_leg)
        async with asyncio.timeout(10):
            while desk.activity("agent1")[0] is not Activity.IN_CALL:
                await asyncio.sleep(0.05)
        caller_heard_before = directory.callee.loud_frames
        await asyncio.sleep(9)  # the agent talks; the caller says two sentences
        caller_heard = directory.callee.loud_frames - caller_heard_before
        assert caller_heard > 100, f"the caller heard the agent for {caller_heard} frames"
        assert agent.talking_from is not None
        whisper = [db for t, db in agent.heard if t < agent.talking_from and db > LOUD_DBFS]
        assert len(whisper) > 50, "the agent heard the whisper before talking"
        from_caller = [db for t, db in agent.heard if t > agent.talking_from and db > LOUD_DBFS]
        assert len(from_caller) > 50, "the agent heard the caller"

        await desk.hang_up("call-1", "agent1")
        report = await asyncio.wait_for(call, 15)
        assert report.outcome is Outcome.HANDOFF, report.reason
        handoff_event = report.log.first(CallEvent.HANDOFF)
        assert handoff_event is not None and handoff_event.data["agent"] == "agent1"
        assert desk.activity("agent1")[0] is Activity.WRAP_UP
        # No bot prompt after the handoff: the bot left the audio path.
        prompts = [e for e in report.log.of(CallEvent.PROMPT_START) if e.t > handoff_event.t]
        assert prompts == []
        # The recording goes on through the conversation: the agent on the bot's track.
        assert report.recording is not None
        with wave.open(io.BytesIO(sink.recordings[next(iter(sink.recordings))])) as wav:
            stereo = np.frombuffer(wav.readframes(wav.getnframes()), np.int16).reshape(-1, 2)
        answered = report.log.first(CallEvent.ANSWER)
        assert answered is not None
        bridged = stereo[int((handoff_event.t - answered.t + 4) * 8000) :]  # after the whisper
        assert len(bridged) > 8000 * 4
        assert rms_dbfs(bridged[:, 1].copy()) > LOUD_DBFS, "the agent's voice is recorded"
        assert rms_dbfs(bridged[:, 0].copy()) > LOUD_DBFS, "the caller's voice is recorded"

        record = await desk.dispose("call-1", "agent1", Disposition.SALE)
        assert dispositions == [record]
        assert desk.activity("agent1")[0] is Activity.IDLE
    finally:
        await callers.close()
        await agents.close()


async def test_nine_pressed_on_hold_opts_out_at_once() -> None:
    """Nobody is free; the caller on hold presses 9: the request is withdrawn, the number is
    on the do-not-call list before the goodbye, and no fallback prompt is said first."""
    voice = PiperSynthesizer()
    on_hold = Persona(
        ring_seconds=0.5,
        script=[Step(wait_for_bot=1), Step(press="1"), Step(wait=5), Step(press="9")],
    )
    directory = _Directory({**load_personas(), "on_hold": on_hold}, voice)
    directory.assign(CALLER, "on_hold")
    callers = LoopbackTransport(directory)
    loaded = load_flow(FLOWS / "upgrade_offer.yaml")
    assert loaded.prompts is not None
    await voice.render(
        loaded.prompts.render(loaded.flow.disclosure, {"company": loaded.flow.company})
    )
    desk = AgentDesk()  # nobody available
    listed: list[str] = []

    async def opt_out() -> None:
        listed.append(CALLER)

    async def handoff(ask: TransferAsk) -> ConnectedAgent | None:
        offer = offer_for(
            ask, offer_id="call-9", number=CALLER, locale="en-US",
            created_at=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        return await desk.request(offer, ask.handoff.timeout)

    try:
        leg = await callers.dial(CALLER, "+12025550100", timeout=10)
        session = CallSession(
            leg, loaded, voice, None, CallHooks(opt_out, handoff=handoff),
            variables={"name": "Alex", "offer": "the 50 GB plan"},
        )  # fmt: skip
        report = await asyncio.wait_for(session.run(), 60)
    finally:
        await callers.close()
    assert report.outcome is Outcome.OPTED_OUT, (report.outcome, report.reason)
    assert listed == [CALLER]
    assert await desk.queue.pending() == []
    log = report.log
    handoff_event = log.first(CallEvent.HANDOFF)
    committed = log.first(CallEvent.DNC_COMMITTED)
    assert handoff_event is not None and handoff_event.data["accepted"] is False
    assert committed is not None and committed.t > handoff_event.t
    after = [e.data["prompt"] for e in log.of(CallEvent.PROMPT_START) if e.t > handoff_event.t]
    assert after == ["opt_out_confirm"], after  # no "all advisors are busy" first
    goodbye = [e for e in log.of(CallEvent.PROMPT_START) if e.data["prompt"] == "opt_out_confirm"]
    assert committed.t < goodbye[0].t
    nine = [e for e in log.of(CallEvent.DIGIT) if e.data["digit"] == "9"]
    assert nine and 0 <= handoff_event.t - nine[0].t < 1.0  # the wait ended at the key press
