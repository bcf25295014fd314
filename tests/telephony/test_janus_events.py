"""How SIP plugin events map onto hang-up causes, digits and codecs (no Janus needed)."""

from __future__ import annotations

import pytest

from voicebot.outcomes import Outcome
from voicebot.telephony import HangupCause, outcome_for
from voicebot.telephony.janus.events import audio_codecs, hangup_cause, info_digit


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (486, HangupCause.BUSY),
        (600, HangupCause.BUSY),
        (603, HangupCause.REJECTED),
        (480, HangupCause.NO_ANSWER),
        (408, HangupCause.NO_ANSWER),
        (404, HangupCause.FAILED),
        (503, HangupCause.FAILED),
        (487, HangupCause.FAILED),  # cancelled by someone else than our ring timeout
    ],
)
def test_final_responses_before_the_answer(code: int, cause: HangupCause) -> None:
    assert hangup_cause(code, answered=False, ring_timed_out=False, we_hung_up=False) is cause


def test_487_after_our_ring_timeout_is_no_answer() -> None:
    cause = hangup_cause(487, answered=False, ring_timed_out=True, we_hung_up=True)
    assert cause is HangupCause.NO_ANSWER
    assert outcome_for(cause) is Outcome.NO_ANSWER


def test_bye_after_the_answer() -> None:
    assert hangup_cause(200, answered=True, ring_timed_out=False, we_hung_up=False) is (
        HangupCause.REMOTE
    )
    assert hangup_cause(200, answered=True, ring_timed_out=False, we_hung_up=True) is (
        HangupCause.LOCAL
    )
    assert outcome_for(
        hangup_cause(486, answered=False, ring_timed_out=False, we_hung_up=False)
    ) is (Outcome.BUSY)


@pytest.mark.parametrize(
    ("content_type", "content", "digit"),
    [
        ("application/dtmf-relay", "Signal=9\r\nDuration=160", "9"),
        ("application/dtmf-relay", "signal= 11\nDuration=100", "#"),
        ("application/dtmf-relay", "Signal=*\r\n", "*"),
        ("application/dtmf", "9", "9"),
        ("application/dtmf; charset=x", " 10 ", "*"),
        ("application/dtmf-relay", "Duration=160", None),
        ("application/dtmf", "A", None),
        ("text/plain", "9", None),
    ],
)
def test_sip_info_digits(content_type: str, content: str, digit: str | None) -> None:
    assert info_digit({"event": "info", "type": content_type, "content": content}) == digit


def test_audio_codecs_of_an_answer() -> None:
    sdp = (
        "v=0\r\nm=audio 4000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\nm=video 0 RTP/AVP 96\r\n"
    )
    assert audio_codecs(sdp) == ["pcma", "telephone-event"]
    assert audio_codecs("v=0\r\nm=audio 4000 RTP/AVP 0\r\n") == ["pcmu"]  # static, no rtpmap
    assert audio_codecs("v=0\r\n") == []
