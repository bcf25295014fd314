"""Every peer is made by rtc.py: no ICE servers, loopback-only candidates, chosen codecs."""

from __future__ import annotations

import ipaddress
import re

import aioice.ice
import pytest

from voicebot.telephony.rtc import (
    Codec,
    ConnectError,
    RtcPeer,
    RtcSettings,
    _aioice_host_addresses,
)
from voicebot.telephony.tracks import OutboundTrack


def _candidate_addresses(sdp: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ", sdp)}


def _rtpmaps(sdp: str) -> list[str]:
    return re.findall(r"a=rtpmap:(\d+ [^\r\n]+)", sdp)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
@pytest.mark.integration
async def test_offer_and_answer_carry_only_the_pinned_loopback_host(host: str) -> None:
    caller = RtcPeer(RtcSettings(host=host), OutboundTrack())
    callee = RtcPeer(RtcSettings(host=host), OutboundTrack())
    try:
        assert caller.configuration.iceServers == []
        offer = await caller.offer()
        answer = await callee.answer(offer)
        assert _candidate_addresses(offer) == {host}
        assert _candidate_addresses(answer) == {host}
        assert "typ srflx" not in offer + answer and "typ relay" not in offer + answer
        await caller.accept(answer)
        await caller.connected()
        await callee.connected()
        assert caller.state == callee.state == "connected"
    finally:
        await caller.close()
        await callee.close()


async def test_the_host_pin_only_applies_while_rtc_gathers() -> None:
    assert aioice.ice.get_host_addresses(True, False) == _aioice_host_addresses(True, False)
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(True, False)


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        (Codec.PCMU, ["0 PCMU/8000", "101 telephone-event/8000"]),
        (Codec.PCMA, ["8 PCMA/8000", "101 telephone-event/8000"]),
        (Codec.OPUS, ["96 opus/48000/2"]),
    ],
)
@pytest.mark.integration
async def test_offer_lists_exactly_the_preferred_codecs(codec: Codec, expected: list[str]) -> None:
    peer = RtcPeer(RtcSettings(codec=codec), OutboundTrack())
    try:
        assert _rtpmaps(await peer.offer()) == expected
    finally:
        await peer.close()


@pytest.mark.integration
async def test_dtmf_can_be_left_out_of_a_g711_offer() -> None:
    peer = RtcPeer(RtcSettings(dtmf=False), OutboundTrack())
    try:
        assert _rtpmaps(await peer.offer()) == ["0 PCMU/8000"]
    finally:
        await peer.close()


@pytest.mark.integration
async def test_answer_without_a_common_codec_is_a_clear_error() -> None:
    caller = RtcPeer(RtcSettings(codec=Codec.PCMU), OutboundTrack())
    callee = RtcPeer(RtcSettings(codec=Codec.OPUS), OutboundTrack())
    try:
        mismatch = r"codec mismatch: we use opus, the far end's offer has pcmu"
        with pytest.raises(ValueError, match=mismatch):
            await callee.answer(await caller.offer())
    finally:
        await caller.close()
        await callee.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": "localhost"}, "host 'localhost': expected an IP address"),
        ({"codec": "g729"}, "codec 'g729': expected one of pcmu, pcma, opus"),
        ({"connect_timeout": 0}, "connect_timeout 0: expected > 0"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RtcSettings(**kwargs)  # type: ignore[arg-type]


def test_codec_names_from_config_files_are_accepted() -> None:
    assert RtcSettings(codec="OPUS").codec is Codec.OPUS  # type: ignore[arg-type]


@pytest.mark.integration
async def test_ice_checks_from_outside_the_remote_networks_go_unanswered() -> None:
    elsewhere = (ipaddress.ip_network("127.9.0.0/16"),)
    loopback = (ipaddress.ip_network("127.0.0.0/8"),)
    for networks, connects in ((elsewhere, False), (loopback, True)):
        caller = RtcPeer(RtcSettings(connect_timeout=3), OutboundTrack())
        callee = RtcPeer(RtcSettings(remote_networks=networks), OutboundTrack())
        try:
            await caller.accept(await callee.answer(await caller.offer()))
            if connects:
                await caller.connected()
            else:  # the caller's checks from 127.0.0.1 get no answer: nothing to nominate
                with pytest.raises(ConnectError):
                    await caller.connected()
                assert callee.state != "connected"
        finally:
            await caller.close()
            await callee.close()
