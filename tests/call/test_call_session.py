"""End-to-end calls over real aiortc media on loopback: a flow, real TTS, real ASR, personas.

Every call here goes bot -> ICE/DTLS/SRTP on 127.0.0.1 -> a simulated callee who hears the bot's
real audio, presses keys in-band or speaks with a natural voice that the bot's real speech
recognizer must understand.
"""

from __future__ import annotations

import pytest

from tests.paths import FLOWS
from voicebot.call.recording import MemorySink
from voicebot.call.session import CallHooks, CallReport, CallSession
from voicebot.eventlog import CallEvent
from voicebot.flow.loader import load_flow
from voicebot.outcomes import Outcome
from voicebot.sim.personas.book import load_personas
from voicebot.sim.personas.callee import PersonaDirectory
from voicebot.sim.personas.model import Persona, Step
from voicebot.speech.asr.select import recognizer_for
from voicebot.speech.tts.piper import PiperSynthesizer
from voicebot.telephony.loopback import LoopbackTransport

pytestmark = pytest.mark.integration

NUMBER = "+12025550147"


async def _call(
    persona: Persona | str, flow: str = "satisfaction_survey.yaml"
) -> tuple[CallReport, list[str]]:
    voice = PiperSynthesizer()
    personas = load_personas()
    if isinstance(persona, Persona):
        personas = {**personas, "custom": persona}
        persona = "custom"
    directory = PersonaDirectory(personas, voice)
    directory.assign(NUMBER, persona)
    transport = LoopbackTransport(directory)
    loaded = load_flow(FLOWS / flow)
    assert loaded.prompts is not None
    dnc: list[str] = []

    async def opt_out() -> None:
        dnc.append(NUMBER)

    disclosure = loaded.prompts.render(loaded.flow.disclosure, {"company": loaded.flow.company})
    await voice.render(disclosure)  # pre-rendered, as `voicebot prompts render` does
    try:
        leg = await transport.dial(NUMBER, "+12025550100", timeout=10)
        session = CallSession(
            leg,
            loaded,
            voice,
            recognizer_for("en-US"),
            CallHooks(opt_out),
            variables={"name": "Alex"},
            recording=MemorySink(),
        )
        report = await session.run()
    finally:
        await transport.close()
    return report, dnc


def _kinds(report: CallReport) -> list[str]:
    return [e.kind.value for e in report.log.entries]


async def test_nine_during_the_disclosure_opts_out_before_the_goodbye() -> None:
    report, dnc = await _call("presses_nine")
    assert report.outcome is Outcome.OPTED_OUT, report
    assert dnc == [NUMBER]
    log = report.log
    digit = log.first(CallEvent.DIGIT)
    committed = log.first(CallEvent.DNC_COMMITTED)
    assert digit is not None and committed is not None
    goodbye = [e for e in log.of(CallEvent.PROMPT_START) if e.data["prompt"] == "opt_out_confirm"]
    assert goodbye and committed.t < goodbye[0].t
    interrupted = log.first(CallEvent.PROMPT_INTERRUPTED)
    assert interrupted is not None and interrupted.data["prompt"] == "disclosure"


async def test_spoken_refusal_is_heard_by_real_asr() -> None:
    report, dnc = await _call("not_interested")
    assert report.outcome is Outcome.REFUSED, (report.outcome, report.reason, report.log.as_list())
    utterances = [e.data["text"] for e in report.log.of(CallEvent.UTTERANCE)]
    assert any("interested" in u for u in utterances), utterances
    assert dnc == []


async def test_no_bot_audio_before_answer_and_disclosure_first() -> None:
    report, _ = await _call(
        Persona(ring_seconds=1.0, script=[Step(wait_for_bot=1), Step(press="3")])
    )
    kinds = _kinds(report)
    assert kinds.index("answer") < kinds.index("prompt_start")
    first_prompt = report.log.first(CallEvent.PROMPT_START)
    assert first_prompt is not None and first_prompt.data["prompt"] == "disclosure"
    assert report.outcome is Outcome.COMPLETED
    assert report.variables["rating"] == 3
    assert report.recording is not None and report.recording.seconds > 5
    # The call ends in one place: the line is down before the outcome, which is logged once.
    assert kinds.count("outcome") == 1 and kinds.index("hangup") < kinds.index("outcome")


async def test_hang_up_at_five_seconds_ends_hung_up_with_talk_time() -> None:
    report, _ = await _call("hangs_up_early")  # answers, hangs up 5 s later
    assert report.outcome is Outcome.HUNG_UP
    assert 4.5 < report.talk_seconds < 7
    hangup = report.log.first(CallEvent.HANGUP)
    assert hangup is not None and hangup.data["cause"] == "remote"
    assert _kinds(report).count("outcome") == 1


@pytest.mark.parametrize(
    ("persona", "outcome"),
    [("busy", Outcome.BUSY), ("never_answers", Outcome.NO_ANSWER), ("rejects", Outcome.REJECTED)],
)
async def test_unanswered_calls(persona: str, outcome: Outcome) -> None:
    report, _ = await _call(persona)
    assert report.outcome is outcome
    assert not report.answered and "prompt_start" not in _kinds(report)
    assert _kinds(report).count("outcome") == 1


async def test_answering_machine_gets_the_voicemail_message_after_the_beep() -> None:
    report, dnc = await _call("voicemail")
    assert report.outcome is Outcome.VOICEMAIL, (report.reason, report.log.as_list())
    verdicts = [e.data["verdict"] for e in report.log.of(CallEvent.AMD)]
    assert verdicts[0] == "machine" and "beep" in verdicts
    beep = next(e for e in report.log.of(CallEvent.AMD) if e.data["verdict"] == "beep")
    message = [
        e for e in report.log.of(CallEvent.PROMPT_START) if e.data["prompt"] == "survey_voicemail"
    ]
    assert message and message[0].t > beep.t
    assert dnc == []


async def test_silence_retries_then_no_response() -> None:
    report, _ = await _call("silent")
    assert report.outcome is Outcome.NO_RESPONSE
    assert len(list(report.log.of(CallEvent.NO_INPUT))) == 3  # first try + 2 retries
    reprompts = [
        e for e in report.log.of(CallEvent.PROMPT_START) if e.data["prompt"] == "survey_reprompt"
    ]
    assert len(reprompts) == 2
