"""Integration: calls from aiortc through a real Janus SIP gateway to SIPp, at the Leg level.

One Janus per module inside a network namespace the fixtures create (voicebot.sim.janus_lab);
each test starts the SIPp scenario that plays the far end and checks SIPp's verdict too (its exit
code is 0 only if every message it expected arrived, e.g. our CANCEL or BYE).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import numpy as np
import pytest

from voicebot.audio import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from voicebot.sim.janus_lab import HOST, Janus, Sipp
from voicebot.speech.dtmf import DtmfDetector
from voicebot.telephony import CallState, Codec, DtmfEvent, HangupCause, dtmf_tones
from voicebot.telephony.janus import JanusConfig, JanusError, JanusLeg, JanusTransport

pytestmark = [pytest.mark.integration, pytest.mark.janus, pytest.mark.timeout(90)]

NUMBER = "+12025550142"
CALLER = "+12025550123"
StartSipp = Callable[..., Sipp]


def _transport(janus: Janus, codec: Codec = Codec.PCMA) -> JanusTransport:
    config = JanusConfig(url=janus.url, account="sip:voicebot@127.0.0.1", host=HOST, codec=codec)
    return JanusTransport(config)


def _rms(frames: list[Pcm]) -> float:
    if not frames:
        return 0.0
    samples = np.concatenate(frames).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


def _tone(seconds: float, hz: float = 1000.0) -> Pcm:
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return np.round(8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


async def _collect(leg: JanusLeg, seconds: float) -> list[Pcm]:
    frames: list[Pcm] = []

    async def read() -> None:
        async for frame in leg.audio():
            frames.append(frame)

    with_timeout = asyncio.create_task(read())
    await asyncio.sleep(seconds)
    with_timeout.cancel()
    return frames


async def test_answered_call_hears_speech_and_the_digit_9_three_ways(
    gateway: Janus,
    sipp: StartSipp,
) -> None:
    far = sipp("uas_talk", 5071)
    transport = _transport(gateway)
    try:
        digits: list[DtmfEvent] = []
        leg = await transport.dial(
            NUMBER, CALLER, 10, uri=far.uri.format(number=NUMBER),
            headers={"X-Voicebot-Campaign": "spring-test"},
        )  # fmt: skip
        assert await leg.wait_answered(), leg.reason
        assert leg.state is CallState.ANSWERED
        assert leg.early_media  # the 183 carried the SDP; the 200 repeated it

        async def read_digits() -> None:
            async for event in leg.dtmf():
                digits.append(event)

        reader = asyncio.create_task(read_digits())
        speech = await _collect(leg, 1.5)
        await asyncio.sleep(3.5)
        reader.cancel()
        await leg.hangup()
        assert await leg.wait_ended() is HangupCause.LOCAL
        assert far.wait() == 0, far.report()
    finally:
        await transport.close()
    assert len(speech) * FRAME_SAMPLES >= SAMPLE_RATE  # at least 1 s of the far end's audio
    assert _rms(speech) > 300, "the far end's speech did not arrive"
    assert DtmfEvent("9", "rfc4733") in digits
    assert digits.count(DtmfEvent("9", "sip_info")) == 2, digits  # dtmf-relay and dtmf bodies


@pytest.mark.parametrize(
    ("codec", "scenario", "port"),
    [
        (Codec.PCMA, "uas_echo", 5072),
        (Codec.PCMU, "uas_echo_pcmu", 5082),
        (Codec.OPUS, "uas_echo_opus", 5083),
    ],
)
async def test_our_audio_reaches_the_far_end_and_digits_go_out_as_sip_info(
    gateway: Janus,
    sipp: StartSipp,
    codec: Codec,
    scenario: str,
    port: int,
) -> None:
    far = sipp(scenario, port, "-rtp_echo")
    transport = _transport(gateway, codec)
    try:
        leg = await transport.dial(NUMBER, CALLER, 10, uri=far.uri.format(number=NUMBER))
        assert await leg.wait_answered(), leg.reason
        assert not leg.rfc4733  # the far end offered no telephone-event
        before = await _collect(leg, 0.6)
        playing = asyncio.create_task(leg.play(_tone(1.5)))
        echoed = await _collect(leg, 1.2)
        await playing
        await leg.send_dtmf("5")
        await leg.hangup()
        assert await leg.wait_ended() is HangupCause.LOCAL
        assert far.wait() == 0, far.report()  # it got INFO Signal=5, then our BYE
    finally:
        await transport.close()
    assert _rms(before) < 100
    assert _rms(echoed) > 1000, "our tone did not come back from the far end's echo"


@pytest.mark.parametrize(
    ("scenario", "port", "code", "cause"),
    [("uas_busy", 5073, 486, HangupCause.BUSY), ("uas_decline", 5088, 603, HangupCause.REJECTED)],
)
async def test_busy_or_declined(
    gateway: Janus,
    sipp: StartSipp,
    scenario: str,
    port: int,
    code: int,
    cause: HangupCause,
) -> None:
    far = sipp(scenario, port)
    transport = _transport(gateway)
    try:
        leg = await transport.dial(NUMBER, CALLER, 10, uri=far.uri.format(number=NUMBER))
        assert not await leg.wait_answered()
        assert await leg.wait_ended() is cause
        assert leg.sip_code == code
        assert far.wait() == 0, far.report()
    finally:
        await transport.close()


async def test_no_answer_cancels_after_the_ring_timeout(
    gateway: Janus,
    sipp: StartSipp,
) -> None:
    far = sipp("uas_noanswer", 5074)
    transport = _transport(gateway)
    try:
        leg = await transport.dial(NUMBER, CALLER, 2, uri=far.uri.format(number=NUMBER))
        assert not await leg.wait_answered()
        assert await leg.wait_ended() is HangupCause.NO_ANSWER
        assert far.wait() == 0, far.report()  # SIPp received our CANCEL
    finally:
        await transport.close()
    assert "CANCEL sip:" in far.messages()


async def test_far_end_hangs_up_during_a_prompt(gateway: Janus, sipp: StartSipp) -> None:
    far = sipp("uas_bye", 5075)
    transport = _transport(gateway)
    try:
        leg = await transport.dial(NUMBER, CALLER, 10, uri=far.uri.format(number=NUMBER))
        assert await leg.wait_answered(), leg.reason
        result = await leg.play(_tone(10.0, 440.0))
        assert not result.completed
        assert await leg.wait_ended() is HangupCause.REMOTE
        assert far.wait() == 0, far.report()
    finally:
        await transport.close()


async def test_codec_mismatch_fails_and_hangs_up_the_sip_leg(
    gateway: Janus,
    sipp: StartSipp,
) -> None:
    far = sipp("uas_mismatch", 5076)
    transport = _transport(gateway, Codec.PCMU)  # SIPp answers PCMA whatever we offer
    try:
        leg = await transport.dial(NUMBER, CALLER, 10, uri=far.uri.format(number=NUMBER))
        assert not await leg.wait_answered()
        assert await leg.wait_ended() is HangupCause.FAILED
        assert leg.reason is not None and "codec mismatch" in leg.reason
        assert far.wait() == 0, far.report()  # SIPp received our BYE
    finally:
        await transport.close()


async def test_transfer_to_an_agent_phone(gateway: Janus, sipp: StartSipp) -> None:
    far = sipp("uas_transfer", 5077)
    transport = _transport(gateway)
    try:
        leg = await transport.dial(NUMBER, CALLER, 10, uri=far.uri.format(number=NUMBER))
        assert await leg.wait_answered(), leg.reason
        await leg.transfer("sip:agent-7@127.0.0.1:5099")
        assert await leg.wait_ended() is HangupCause.REMOTE  # the far end left for the agent
        assert far.wait() == 0, far.report()
    finally:
        await transport.close()


async def test_registered_account_carries_two_calls_at_once_on_helper_handles(
    gateway: Janus,
    sipp: StartSipp,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    registrar = sipp("uas_registrar", 5078)
    far = sipp("uas_hold", 5079, "-rtp_echo", calls=2)
    monkeypatch.setenv("VOICEBOT_SIP_SECRET", "s3cret-never-logged")
    config = JanusConfig(
        url=gateway.url, account="sip:voicebot@127.0.0.1", kind="registered",
        registrar="sip:127.0.0.1:5078", host=HOST, codec=Codec.PCMA,
    )  # fmt: skip
    transport = JanusTransport(config)
    caplog.set_level("DEBUG")
    try:
        await transport.connect()
        assert registrar.wait() == 0, registrar.report()
        uri = far.uri.format(number=NUMBER)
        legs = await asyncio.gather(
            transport.dial(NUMBER, CALLER, 10, uri=uri),
            transport.dial("+12025550144", CALLER, 10, uri=uri),
        )
        for leg in legs:
            assert await leg.wait_answered(), leg.reason
        assert legs[0].handle is not None and legs[1].handle is not None
        assert legs[0].handle.id != legs[1].handle.id
        for leg in legs:
            await leg.hangup()
            assert await leg.wait_ended() is HangupCause.LOCAL
        assert far.wait() == 0, far.report()
    finally:
        await transport.close()
    assert "P-Asserted-Identity: <sip:+12025550123@127.0.0.1>" in far.messages()
    assert "s3cret" not in caplog.text


async def test_warm_transfer_bridges_the_callee_to_an_agent_phone(
    gateway: Janus,
    sipp: StartSipp,
) -> None:
    callee_phone = sipp("uas_speech", 5085)
    agent_phone = sipp("uas_hold", 5086, "-rtp_echo")  # the agent repeats what they hear
    transport = _transport(gateway)
    try:
        callee = await transport.dial(
            NUMBER, CALLER, 10, uri=callee_phone.uri.format(number=NUMBER)
        )
        agent = await transport.dial(
            "+12025550177", CALLER, 10, uri=agent_phone.uri.format(number="+12025550177")
        )
        assert await callee.wait_answered(), callee.reason
        assert await agent.wait_answered(), agent.reason
        bridge = asyncio.create_task(callee.bridge(agent))
        await asyncio.sleep(0.5)
        heard_by_agent = await _collect(agent, 1.5)  # the callee's speech, echoed by the agent
        bridge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bridge
        for leg in (callee, agent):
            await leg.hangup()
            assert await leg.wait_ended() is HangupCause.LOCAL
        assert callee_phone.wait() == 0, callee_phone.report()
        assert agent_phone.wait() == 0, agent_phone.report()
    finally:
        await transport.close()
    assert _rms(heard_by_agent) > 300, "the callee's voice did not reach the agent's phone"


async def test_in_band_digits_survive_the_trip_through_janus(
    gateway: Janus,
    sipp: StartSipp,
) -> None:
    far = sipp("uas_hold", 5087, "-rtp_echo")  # the far end sends back what we send: tones
    transport = _transport(gateway)
    detector = DtmfDetector()
    heard: list[str] = []
    try:
        leg = await transport.dial(NUMBER, CALLER, 10, uri=far.uri.format(number=NUMBER))
        assert await leg.wait_answered(), leg.reason

        async def detect() -> None:
            async for frame in leg.audio():
                heard.extend(event.digit for event in detector.feed(frame))

        reader = asyncio.create_task(detect())
        await leg.play(dtmf_tones("9#"))
        await asyncio.sleep(0.5)
        reader.cancel()
        await leg.hangup()
        assert far.wait() == 0, far.report()
    finally:
        await transport.close()
    assert heard == ["9", "#"]


async def test_a_refused_registration_is_a_clear_error_and_fails_the_calls(
    gateway: Janus,
    sipp: StartSipp,
) -> None:
    registrar = sipp("uas_registrar_forbidden", 5089, calls=2)
    config = JanusConfig(
        url=gateway.url, kind="registered", registrar="sip:127.0.0.1:5089", secret="wrong",
        host=HOST, codec=Codec.PCMA,
    )  # fmt: skip
    transport = JanusTransport(config)
    try:
        with pytest.raises(JanusError, match="registration failed: 403"):
            await transport.connect()
        leg = await transport.dial(NUMBER, CALLER, 10)
        assert leg.cause is HangupCause.FAILED
        assert leg.reason is not None and "registration failed: 403" in leg.reason
        assert registrar.wait() == 0, registrar.report()
    finally:
        await transport.close()


async def test_rfc4733_digits_we_send_come_back_from_an_echoing_phone(
    gateway: Janus,
    sipp: StartSipp,
) -> None:
    far = sipp("uas_hold_events", 5096, "-rtp_echo")
    transport = _transport(gateway)
    digits: list[DtmfEvent] = []
    try:
        leg = await transport.dial(NUMBER, CALLER, 10, uri=far.uri.format(number=NUMBER))
        assert await leg.wait_answered(), leg.reason
        assert leg.rfc4733

        async def read_digits() -> None:
            async for event in leg.dtmf():
                digits.append(event)

        reader = asyncio.create_task(read_digits())
        await asyncio.sleep(0.3)
        await leg.send_dtmf("9*")
        await asyncio.sleep(0.5)
        reader.cancel()
        await leg.hangup()
        assert far.wait() == 0, far.report()
    finally:
        await transport.close()
    assert digits == [DtmfEvent("9", "rfc4733"), DtmfEvent("*", "rfc4733")]
