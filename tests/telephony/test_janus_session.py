"""Integration: full calls (flow, TTS, DTMF, outcome) through a real Janus to SIPp phones.

The far end presses 9 during the disclosure, once as an RFC 2833 event and once as a SIP INFO;
each must end the call ``opted_out`` with the do-not-call entry committed (a real gate on a
fresh store) before the goodbye. A far
end that hangs up during a prompt ends ``hung_up``; a busy line ends ``busy``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.paths import FLOWS
from voicebot.call.placement import CallPlan, place_call
from voicebot.call.session import CallReport
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.eventlog import CallEvent
from voicebot.flow.loader import load_flow
from voicebot.outcomes import Outcome
from voicebot.sim.janus_lab import HOST, Janus, Sipp
from voicebot.speech.asr.select import recognizer_for
from voicebot.speech.tts.piper import PiperSynthesizer
from voicebot.store import open_store
from voicebot.telephony import Codec
from voicebot.telephony.janus import JanusConfig, JanusTransport

pytestmark = [pytest.mark.integration, pytest.mark.janus, pytest.mark.timeout(120)]

NUMBER = "+12025550171"
NOON_IN_NEW_YORK = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)
StartSipp = Callable[..., Sipp]


async def _call(janus: Janus, far: Sipp, tmp_path: Path) -> CallReport:
    config = JanusConfig(
        url=janus.url, account="sip:voicebot@127.0.0.1", host=HOST, codec=Codec.PCMA, trunk=far.uri
    )
    transport = JanusTransport(config)
    store = await open_store(str(tmp_path / "calls.db"))
    voice = PiperSynthesizer()
    loaded = load_flow(FLOWS / "satisfaction_survey.yaml")
    try:
        placed = await place_call(
            CallPlan(
                NUMBER, loaded, "janus-test", "+12025550100", {"name": "Alex"}, ring_timeout=10
            ),
            transport,
            voice,
            recognizer_for("en-US"),
            gate=Gate(store, load_policy()),
            clock=lambda: NOON_IN_NEW_YORK,
        )
    finally:
        await transport.close()
        await store.close()
    assert placed.report is not None
    return placed.report


def _opted_out_before_goodbye(report: CallReport, source: str) -> None:
    assert report.outcome is Outcome.OPTED_OUT, (report.reason, report.log.as_list())
    digit = report.log.first(CallEvent.DIGIT)
    assert digit is not None and digit.data == {"digit": "9", "source": source}
    committed = report.log.first(CallEvent.DNC_COMMITTED)
    goodbye = next(
        e for e in report.log.of(CallEvent.PROMPT_START) if e.data["prompt"] == "opt_out_confirm"
    )
    assert committed is not None and digit.t <= committed.t < goodbye.t


@pytest.mark.parametrize(
    ("scenario", "port", "source"),
    [("uas_optout_2833", 5095, "rfc4733"), ("uas_optout_info", 5096, "sip_info")],
)
async def test_nine_through_janus_opts_out(
    gateway: Janus,
    sipp: StartSipp,
    scenario: str,
    port: int,
    source: str,
    tmp_path: Path,
) -> None:
    far = sipp(scenario, port)
    report = await _call(gateway, far, tmp_path)
    _opted_out_before_goodbye(report, source)
    assert far.wait() == 0, far.report()  # it got our BYE after the goodbye


async def test_far_end_bye_during_a_prompt_is_hung_up(
    gateway: Janus,
    sipp: StartSipp,
    tmp_path: Path,
) -> None:
    far = sipp("uas_bye", 5097)
    report = await _call(gateway, far, tmp_path)
    assert report.outcome is Outcome.HUNG_UP
    assert report.log.first(CallEvent.PROMPT_INTERRUPTED) is not None
    assert far.wait() == 0, far.report()


async def test_busy_line_is_busy(
    gateway: Janus,
    sipp: StartSipp,
    tmp_path: Path,
) -> None:
    far = sipp("uas_busy", 5098)
    report = await _call(gateway, far, tmp_path)
    assert report.outcome is Outcome.BUSY and not report.answered
    assert far.wait() == 0, far.report()
