"""Calls over the loopback transport: real aiortc peers, ICE, DTLS and SRTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.audio_samples import loud_frames, peak_hz, tone
from voicebot.audio import Pcm
from voicebot.outcomes import Outcome
from voicebot.telephony import (
    Callee,
    CallState,
    Codec,
    HangupCause,
    IncomingCall,
    Leg,
    LegStateError,
    LoopbackTransport,
    OutboundTrack,
    PeerLeg,
    Ring,
    RingAction,
    RtcPeer,
    RtcSettings,
    StaticDirectory,
    outcome_for,
)
from voicebot.telephony.sdp import voice_codecs

BOT = "+12025550100"
ALICE = "+8613800138000"
BOB = "+12025550142"

Script = Callable[[Leg], Awaitable[None]]


class Person(Callee):
    """A small real callee: rings as told, then runs a script on its own leg."""

    def __init__(self, ring: Ring, script: Script | None = None) -> None:
        self._ring = ring
        self._script = script
        self.calls: list[IncomingCall] = []
        self.leg: Leg | None = None

    def ring(self, call: IncomingCall) -> Ring:
        self.calls.append(call)
        return self._ring

    async def talk(self, leg: Leg) -> None:
        self.leg = leg
        if self._script is None:
            await leg.wait_ended()
        else:
            await self._script(leg)


def answers(script: Script | None = None, after: float = 0.0) -> Person:
    return Person(Ring(RingAction.ANSWER, after), script)


async def hums(leg: Leg, freq: float = 440) -> None:
    """Keeps playing a tone until the bot hangs up."""
    while leg.state is CallState.ANSWERED:
        await leg.play(tone(freq, 1000))


@contextlib.asynccontextmanager
async def transport(
    callees: dict[str, Callee], codec: Codec = Codec.PCMU, callee_codec: Codec | None = None
) -> AsyncIterator[LoopbackTransport]:
    """A loopback transport that must leave no task behind."""
    settings = RtcSettings(codec=codec)
    other = RtcSettings(codec=callee_codec) if callee_codec else None
    loop = LoopbackTransport(StaticDirectory(callees), settings, other)
    before = asyncio.all_tasks()
    try:
        yield loop
    finally:
        await loop.close()
    deadline = asyncio.get_running_loop().time() + 5
    while (leaked := asyncio.all_tasks() - before) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert not leaked, f"tasks left behind: {leaked}"


@pytest.mark.parametrize("codec", [Codec.PCMU, Codec.PCMA, Codec.OPUS])
@pytest.mark.integration
async def test_audio_flows_both_ways(codec: Codec) -> None:
    heard_by_callee: list[Pcm] = []

    async def listen_and_hum(leg: Leg) -> None:
        humming = asyncio.create_task(hums(leg, 440))
        heard_by_callee.append(await loud_frames(leg, 25))
        humming.cancel()
        await leg.wait_ended()

    callee = answers(listen_and_hum)
    async with transport({ALICE: callee}, codec) as loop:
        leg = await loop.dial(ALICE, BOT, timeout=5)
        assert await leg.wait_answered()
        heard_by_bot = asyncio.create_task(loud_frames(leg, 25))
        playing = asyncio.create_task(leg.play(tone(1000, 3000)))
        async with asyncio.timeout(10):
            bot_pcm = await heard_by_bot
            while not heard_by_callee:
                await asyncio.sleep(0.05)
        playing.cancel()
        await leg.hangup()
        assert leg.cause is HangupCause.LOCAL
    assert peak_hz(bot_pcm) == pytest.approx(440, abs=15)
    assert peak_hz(heard_by_callee[0]) == pytest.approx(1000, abs=15)
    assert callee.calls == [IncomingCall(ALICE, BOT)]
    assert callee.leg is not None and callee.leg.cause is HangupCause.REMOTE


@pytest.mark.integration
async def test_no_bot_audio_before_the_answer() -> None:
    async with transport({ALICE: answers(after=0.6)}) as loop:
        leg = await loop.dial(ALICE, BOT, timeout=5)
        assert isinstance(leg, PeerLeg)
        assert leg.state is CallState.RINGING
        with pytest.raises(LegStateError, match="cannot play audio: the call is ringing"):
            await leg.play(tone(1000, 200))
        with pytest.raises(LegStateError, match="cannot send DTMF"):
            await leg.send_dtmf("1")
        await leg.peer.connected()  # media is up during ringing (early media) ...
        await asyncio.sleep(0.2)
        assert leg.state is CallState.RINGING
        assert await _packets_sent(leg) == 0  # ... but the bot sends nothing
        assert await leg.wait_answered()
        await asyncio.sleep(0.2)
        assert await _packets_sent(leg) > 0
        await leg.hangup()


async def _packets_sent(leg: PeerLeg) -> int:
    stats = await leg.peer.transceiver.sender.getStats()
    return sum(s.packetsSent for s in stats.values() if s.type == "outbound-rtp")


@pytest.mark.parametrize(
    ("ring", "cause", "outcome"),
    [
        (Ring(RingAction.BUSY, 0.1), HangupCause.BUSY, Outcome.BUSY),
        (Ring(RingAction.REJECT, 0.2), HangupCause.REJECTED, Outcome.REJECTED),
        (Ring(RingAction.IGNORE), HangupCause.NO_ANSWER, Outcome.NO_ANSWER),
        (Ring(RingAction.ANSWER, 5.0), HangupCause.NO_ANSWER, Outcome.NO_ANSWER),
    ],
)
@pytest.mark.integration
async def test_unanswered_calls_end_with_their_cause(
    ring: Ring, cause: HangupCause, outcome: Outcome
) -> None:
    async with transport({ALICE: Person(ring)}) as loop:
        leg = await loop.dial(ALICE, BOT, timeout=0.5)
        assert leg.state is CallState.RINGING
        assert not await leg.wait_answered()
        assert await leg.wait_ended() is cause
        assert outcome_for(cause) is outcome
        assert not outcome.answered


@pytest.mark.integration
async def test_unknown_number_and_codec_mismatch_fail() -> None:
    async with transport({ALICE: answers()}, Codec.PCMU, callee_codec=Codec.OPUS) as loop:
        nobody = await loop.dial(BOB, BOT, timeout=1)
        assert nobody.state is CallState.ENDED and nobody.cause is HangupCause.FAILED
        mismatch = await loop.dial(ALICE, BOT, timeout=1)
        assert await mismatch.wait_ended() is HangupCause.FAILED
        assert outcome_for(HangupCause.FAILED) is Outcome.FAILED


@pytest.mark.integration
async def test_g711_law_mismatch_fails_instead_of_a_silent_call() -> None:
    # Both sides offer telephone-event, so it is the only codec in common: aiortc would accept
    # that answer and have no voice codec to send with. The call must fail, not go silent.
    async with transport({ALICE: answers()}, Codec.PCMU, callee_codec=Codec.PCMA) as loop:
        leg = await loop.dial(ALICE, BOT, timeout=2)
        async with asyncio.timeout(10):
            assert await leg.wait_ended() is HangupCause.FAILED


def test_voice_codecs_ignore_events_and_comfort_noise() -> None:
    sdp = (
        "v=0\r\nm=audio 4000 RTP/AVP 8 101 13\r\na=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=rtpmap:13 CN/8000\r\n"
    )
    assert voice_codecs(sdp) == ["pcma"]


async def test_dial_refuses_bad_input() -> None:
    async with transport({}) as loop:
        with pytest.raises(ValueError, match=r"expected E\.164 digits"):
            await loop.dial("call me", BOT, timeout=1)
        with pytest.raises(ValueError, match="timeout 0: expected a ring timeout"):
            await loop.dial(ALICE, BOT, timeout=0)


@pytest.mark.integration
async def test_callee_hangup_ends_the_bot_leg() -> None:
    async def greet_and_hang_up(leg: Leg) -> None:
        await leg.play(tone(440, 300))

    async with transport({ALICE: answers(greet_and_hang_up)}) as loop:
        leg = await loop.dial(ALICE, BOT, timeout=5)
        assert await leg.wait_answered()
        async with asyncio.timeout(5):
            assert await leg.wait_ended() is HangupCause.REMOTE
        assert outcome_for(HangupCause.REMOTE) is Outcome.HUNG_UP
        assert [f async for f in leg.audio()] == []  # iterators end with the leg
        with pytest.raises(LegStateError):
            await leg.play(tone(440, 100))


@pytest.mark.integration
async def test_hangup_is_noticed_from_the_media_alone() -> None:
    """Without any signalling (a gateway that says nothing), RTCP BYE / DTLS close suffice."""
    before = asyncio.all_tasks()
    legs = []
    for _ in range(2):
        track = OutboundTrack()
        legs.append(PeerLeg(ALICE, RtcPeer(RtcSettings(), track), track))
    near, far = legs
    await near.peer.accept(await far.peer.answer(await near.peer.offer()))
    for leg in legs:
        leg.start_media()
    await asyncio.gather(near.peer.connected(), far.peer.connected())
    for leg in legs:
        leg.set_answered()
    await far.hangup()
    async with asyncio.timeout(5):
        assert await near.wait_ended() is HangupCause.REMOTE
    await asyncio.sleep(0.1)
    assert asyncio.all_tasks() - before == set()


@pytest.mark.integration
async def test_bot_hangup_while_ringing_cancels_the_call() -> None:
    callee = answers(after=3)
    async with transport({ALICE: callee}) as loop:
        leg = await loop.dial(ALICE, BOT, timeout=5)
        await asyncio.sleep(0.2)
        await leg.hangup()
        await leg.hangup()  # idempotent
        assert leg.cause is HangupCause.LOCAL
        assert outcome_for(HangupCause.LOCAL) is None
        assert callee.leg is None  # never answered


@pytest.mark.integration
async def test_callee_notices_the_bot_hanging_up_while_it_talks() -> None:
    async with transport({ALICE: answers(hums)}) as loop:
        leg = await loop.dial(ALICE, BOT, timeout=5)
        assert await leg.wait_answered()
        await loud_frames(leg, 5)
        await leg.hangup()
    # the transport context checked that the humming callee's tasks are gone


@pytest.mark.integration
async def test_closing_the_transport_ends_every_call() -> None:
    callees: dict[str, Callee] = {ALICE: answers(hums), BOB: Person(Ring(RingAction.IGNORE))}
    async with transport(callees) as loop:
        talking = await loop.dial(ALICE, BOT, timeout=5)
        ringing = await loop.dial(BOB, BOT, timeout=5)
        assert await talking.wait_answered()
        await loop.close()
        assert talking.state is ringing.state is CallState.ENDED
        assert talking.cause is ringing.cause is HangupCause.LOCAL


@pytest.mark.integration
async def test_barge_in_cuts_the_bot_prompt() -> None:
    async def interrupt_after_a_while(leg: Leg) -> None:
        await asyncio.sleep(0.3)
        await leg.play(tone(440, 600))
        await leg.wait_ended()

    async with transport({ALICE: answers(interrupt_after_a_while)}) as loop:
        leg = await loop.dial(ALICE, BOT, timeout=5)
        assert await leg.wait_answered()
        prompt = asyncio.create_task(leg.play(tone(1000, 5000)))
        await loud_frames(leg, 2)  # the callee speaks: barge in
        leg.interrupt()
        result = await prompt
        assert not result.completed and 0 < result.played_ms < 5000
        await leg.hangup()


@pytest.mark.integration
async def test_bridge_carries_audio_between_two_calls() -> None:
    heard: dict[str, Pcm] = {}

    def party(name: str, freq: float) -> Person:
        async def talk(leg: Leg) -> None:
            humming = asyncio.create_task(hums(leg, freq))
            heard[name] = await loud_frames(leg, 20)
            humming.cancel()
            await leg.wait_ended()

        return answers(talk)

    async with transport({ALICE: party("alice", 440), BOB: party("bob", 1200)}) as loop:
        caller = await loop.dial(ALICE, BOT, timeout=5)
        agent = await loop.dial(BOB, BOT, timeout=5)
        assert await caller.wait_answered() and await agent.wait_answered()
        bridge = asyncio.create_task(caller.bridge(agent))
        async with asyncio.timeout(10):
            while len(heard) < 2:
                await asyncio.sleep(0.05)
        bridge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bridge
        await caller.hangup()
        await agent.hangup()
    assert peak_hz(heard["alice"]) == pytest.approx(1200, abs=15)
    assert peak_hz(heard["bob"]) == pytest.approx(440, abs=15)


@pytest.mark.integration
async def test_bridge_needs_two_answered_legs() -> None:
    async with transport({ALICE: Person(Ring(RingAction.IGNORE)), BOB: answers()}) as loop:
        ringing = await loop.dial(ALICE, BOT, timeout=5)
        answered = await loop.dial(BOB, BOT, timeout=5)
        assert await answered.wait_answered()
        with pytest.raises(LegStateError, match="cannot bridge a leg that is ringing"):
            await answered.bridge(ringing)
        await ringing.hangup()
        await answered.hangup()
