"""Integration: a campaign whose transport is the Janus gateway, dialling a SIPp phone.

The campaign machinery (gate, dialer, session runner, do-not-call hook, results) is the one the
loopback demo uses; only the carrier differs. The far end presses 9 as RFC 2833.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from janus.fixtures import gateway, namespace, sipp  # noqa: F401 - pytest fixtures

from voicebot.campaign.clock import RealClock
from voicebot.campaign.config import load_campaign
from voicebot.campaign.launch import Collector, dial, prepare, results_of, runner_for
from voicebot.compliance import dnc
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.store import open_store
from voicebot.telephony.janus.lab import HOST, Janus, Sipp

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parent.parent
NUMBER = "+8613800138077"


@pytest.fixture
def janus_env(gateway: Janus, monkeypatch: pytest.MonkeyPatch) -> Iterator[Janus]:  # noqa: F811
    monkeypatch.setenv("VOICEBOT_JANUS_URL", gateway.url)
    monkeypatch.setenv("VOICEBOT_JANUS_ACCOUNT", "sip:voicebot@127.0.0.1")
    monkeypatch.setenv("VOICEBOT_JANUS_HOST", HOST)
    monkeypatch.setenv("VOICEBOT_JANUS_CODEC", "pcma")  # what the SIPp phones answer
    yield gateway


async def test_a_campaign_over_janus_honours_nine(
    janus_env: Janus,
    sipp: Callable[..., Sipp],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    far = sipp("uas_optout_2833", 5099)
    monkeypatch.setenv("VOICEBOT_JANUS_TRUNK", far.uri)
    (tmp_path / "contacts.csv").write_text(
        f"number,name,account_tail,amount,due_date\n{NUMBER},张三,8000,1200,12月1日\n"
        f"+8613800138078,李四,,,\n",  # no bill details: refused at import, never dialled
        encoding="utf-8",
    )
    (tmp_path / "policy.yaml").write_text(  # any hour of the test run is inside the window
        "purposes:\n  notification:\n    window: {start: '00:00', end: '23:59'}\n",
        encoding="utf-8",
    )
    camp = tmp_path / "campaign.yaml"
    camp.write_text(
        f"name: janus-test\nflow: {(ROOT / 'flows' / 'payment_reminder.yaml').as_posix()}\n"
        'contacts: contacts.csv\ncaller_id: "+8675512345678"\ntransport: janus\n',
        encoding="utf-8",
    )
    prepared = prepare(load_campaign(camp))
    assert [r.line for r in prepared.contacts.rejected] == [3]
    assert "no value for account_tail, amount, due_date" in prepared.contacts.rejected[0].reason
    store = await open_store(str(tmp_path / "c.db"))
    try:
        gate = Gate(store, load_policy(tmp_path / "policy.yaml"))
        clock = RealClock()
        started = clock.now()
        collector = Collector()
        async with runner_for(prepared, gate=gate) as runner:
            entries = await dial(prepared, gate, runner, clock, collector, until_idle=True)
        results = results_of(prepared, entries, collector, started, clock.now())
        assert [c.status for c in results.calls] == ["opted_out"], results.calls
        assert [e.number for e in await dnc.entries(store, NUMBER)] == [NUMBER]
    finally:
        await store.close()
    assert far.wait() == 0, far.report()
