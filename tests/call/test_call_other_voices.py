"""Loopback calls where the callee speaks in a voice the engines were not tuned on.

Real aiortc media on 127.0.0.1, the bot's real flow and prompts, a simulated callee speaking
with espeak-ng (not Piper's joe voice, which pocketsphinx was tuned on), and the Whisper engine
on the bot's side. The refusal must end the call ``refused``, not ``no_response``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import FLOWS
from voicebot.call.recording import MemorySink
from voicebot.call.session import CallHooks, CallSession
from voicebot.eventlog import CallEvent
from voicebot.flow.loader import load_flow
from voicebot.outcomes import Outcome
from voicebot.sim.personas.callee import PersonaDirectory
from voicebot.sim.personas.model import Persona, Step
from voicebot.speech.asr.whisper import WhisperRecognizer
from voicebot.speech.tts import TtsCache
from voicebot.speech.tts.base import Synthesizer
from voicebot.speech.tts.espeak import EspeakSynthesizer
from voicebot.speech.tts.piper import PiperSynthesizer
from voicebot.telephony.loopback import LoopbackTransport

NUMBER = "+12025550148"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("flow", "locale", "caller_voice", "refusal"),
    [
        ("satisfaction_survey.yaml", "en-US", "en+f2", "No, I'm not interested, thank you."),
        ("marketing_offer.yaml", "zh-CN", "cmn+f2", "不需要，谢谢。"),
    ],
)
async def test_a_refusal_in_another_voice_is_heard(
    tmp_path: Path, flow: str, locale: str, caller_voice: str, refusal: str
) -> None:
    cache = TtsCache(tmp_path / "tts")
    bot_voice: Synthesizer = (
        PiperSynthesizer(cache=cache) if locale == "en-US" else EspeakSynthesizer(cache=cache)
    )
    caller = Persona(voice=locale, script=[Step(wait_for_bot=1), Step(say=refusal)])
    directory = PersonaDirectory({"caller": caller}, EspeakSynthesizer(caller_voice, cache=cache))
    directory.assign(NUMBER, "caller")
    transport = LoopbackTransport(directory)
    loaded = load_flow(FLOWS / flow)
    assert loaded.prompts is not None
    disclosure = loaded.prompts.render(loaded.flow.disclosure, {"company": loaded.flow.company})
    await bot_voice.render(disclosure)  # pre-rendered, as `voicebot prompts render` does

    async def opt_out() -> None:
        raise AssertionError("a refusal is not an opt-out")

    try:
        leg = await transport.dial(NUMBER, "+12025550100", timeout=10)
        session = CallSession(
            leg,
            loaded,
            bot_voice,
            WhisperRecognizer(locale),
            CallHooks(opt_out),
            variables={"name": "Alex", "offer": "100M"},
            recording=MemorySink(),
        )
        report = await session.run()
    finally:
        await transport.close()
    heard = [e.data["text"] for e in report.log.of(CallEvent.UTTERANCE)]
    assert report.outcome is Outcome.REFUSED, (report.outcome, heard)
