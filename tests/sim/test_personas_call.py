"""Personas on real loopback calls: they ring as written, hear the bot, press and speak."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voicebot.audio import SAMPLE_RATE, rms_dbfs
from voicebot.sim.personas.book import load_personas
from voicebot.sim.personas.callee import PersonaDirectory
from voicebot.sim.personas.model import Persona, Pickup, Step
from voicebot.speech.dtmf import DtmfDetector
from voicebot.speech.tts.piper import PiperSynthesizer
from voicebot.telephony.leg import CallState, HangupCause
from voicebot.telephony.loopback import LoopbackTransport

NUMBER = "+12025550143"


def _transport(persona: Persona) -> LoopbackTransport:
    directory = PersonaDirectory({"p": persona}, PiperSynthesizer())
    directory.assign(NUMBER, "p")
    return LoopbackTransport(directory)


def _bot_speech(seconds: float) -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return np.round(6000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


@pytest.mark.parametrize(
    ("pickup", "cause"),
    [
        (Pickup.BUSY, HangupCause.BUSY),
        (Pickup.REJECT, HangupCause.REJECTED),
        (Pickup.NEVER, HangupCause.NO_ANSWER),
    ],
)
@pytest.mark.integration
async def test_personas_that_do_not_answer(pickup: Pickup, cause: HangupCause) -> None:
    transport = _transport(Persona(pickup=pickup, ring_seconds=0.2))
    try:
        leg = await transport.dial(NUMBER, "+12025550100", timeout=1.5)
        assert await leg.wait_answered() is False
        assert await leg.wait_ended() is cause
    finally:
        await transport.close()


@pytest.mark.integration
async def test_persona_waits_for_the_bot_then_presses_nine_in_band() -> None:
    persona = Persona(ring_seconds=0.1, script=[Step(wait_for_bot=1), Step(press="9")])
    transport = _transport(persona)
    try:
        leg = await transport.dial(NUMBER, "+12025550100", timeout=5)
        assert await leg.wait_answered()
        detector = DtmfDetector()
        digits: list[str] = []

        async def hear() -> None:
            async for frame in leg.audio():
                digits.extend(e.digit for e in detector.feed(frame))
                if digits:
                    return

        hearing = asyncio.create_task(hear())
        await leg.play(_bot_speech(1.0))
        await asyncio.wait_for(hearing, 10)
        assert digits == ["9"]
        await leg.hangup()
        assert await leg.wait_ended() is HangupCause.LOCAL
    finally:
        await transport.close()


@pytest.mark.integration
async def test_persona_speaks_and_hangs_up() -> None:
    persona = Persona(ring_seconds=0.1, script=[Step(say="Hello?"), Step(hangup=True)])
    transport = _transport(persona)
    try:
        leg = await transport.dial(NUMBER, "+12025550100", timeout=5)
        assert await leg.wait_answered()
        loud = 0
        async for frame in leg.audio():
            loud += rms_dbfs(frame) > -40
        assert loud >= 10  # heard about 200 ms or more of the persona's voice
        assert await leg.wait_ended() is HangupCause.REMOTE
        assert leg.state is CallState.ENDED
    finally:
        await transport.close()


def test_builtin_book_assigns_by_name() -> None:
    directory = PersonaDirectory(load_personas(), PiperSynthesizer())
    directory.assign(NUMBER, "busy")
    assert directory.lookup(NUMBER) is not None
    assert directory.lookup("+12025550199") is None
    with pytest.raises(KeyError, match="no persona 'nobody'; known: "):
        directory.assign(NUMBER, "nobody")
