"""Integration: a campaign whose transport is the Janus gateway, dialling a SIPp phone.

The campaign machinery (gate, dialer, session runner, do-not-call hook, results) is the one the
loopback demo uses; only the carrier differs. The far end presses 9 as RFC 2833.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.paths import ROOT
from voicebot.campaign.clock import RealClock
from voicebot.campaign.config import load_campaign
from voicebot.campaign.dialer import DialerEvent
from voicebot.campaign.launch import Collector, dial, prepare, results_of, runner_for
from voicebot.compliance import dnc
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.sim.janus_lab import HOST, Janus, Namespace, Sipp
from voicebot.store import open_store
from voicebot.store.models import ATTEMPTS

pytestmark = [pytest.mark.integration, pytest.mark.janus, pytest.mark.timeout(120)]

NUMBER = "+8613800138077"


@pytest.fixture
def janus_env(gateway: Janus, monkeypatch: pytest.MonkeyPatch) -> Iterator[Janus]:
    monkeypatch.setenv("VOICEBOT_JANUS_URL", gateway.url)
    monkeypatch.setenv("VOICEBOT_JANUS_ACCOUNT", "sip:voicebot@127.0.0.1")
    monkeypatch.setenv("VOICEBOT_JANUS_HOST", HOST)
    monkeypatch.setenv("VOICEBOT_JANUS_CODEC", "pcma")  # what the SIPp phones answer
    yield gateway


async def test_a_campaign_over_janus_honours_nine(
    janus_env: Janus,
    sipp: Callable[..., Sipp],
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


async def test_janus_killed_mid_call_fails_that_call_and_the_campaign_goes_on(
    namespace: Namespace,
    sipp: Callable[..., Sipp],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    far = sipp("uas_hold", 5100, calls=3)
    victim = Janus(namespace, tmp_path / "victim", http_port=8091, rtp_base=23000)
    victim.start()
    monkeypatch.setenv("VOICEBOT_JANUS_URL", victim.url)
    monkeypatch.setenv("VOICEBOT_JANUS_ACCOUNT", "sip:voicebot@127.0.0.1")
    monkeypatch.setenv("VOICEBOT_JANUS_HOST", HOST)
    monkeypatch.setenv("VOICEBOT_JANUS_CODEC", "pcma")
    monkeypatch.setenv("VOICEBOT_JANUS_TRUNK", far.uri)
    rows = "".join(f"+86138001380{80 + i},客户{i},800{i},100,12月1日\n" for i in range(3))
    (tmp_path / "contacts.csv").write_text(
        "number,name,account_tail,amount,due_date\n" + rows, encoding="utf-8"
    )
    (tmp_path / "policy.yaml").write_text(
        "purposes:\n  notification:\n    window: {start: '00:00', end: '23:59'}\n",
        encoding="utf-8",
    )
    camp = tmp_path / "campaign.yaml"
    camp.write_text(
        f"name: janus-kill\nflow: {(ROOT / 'flows' / 'payment_reminder.yaml').as_posix()}\n"
        'contacts: contacts.csv\ncaller_id: "+8675512345678"\ntransport: janus\n'
        "pacing: {max_concurrent: 1}\n",
        encoding="utf-8",
    )
    prepared = prepare(load_campaign(camp))
    store = await open_store(str(tmp_path / "k.db"))
    killed: list[bool] = []

    async def kill_once_answered() -> None:
        await asyncio.sleep(4)  # the first call is answered and in its disclosure
        await asyncio.to_thread(victim.kill)
        killed.append(True)

    killer: asyncio.Task[None] | None = None

    def on_event(event: DialerEvent) -> None:
        nonlocal killer
        if event.kind == "dialing" and killer is None:
            killer = asyncio.create_task(kill_once_answered())

    try:
        gate = Gate(store, load_policy(tmp_path / "policy.yaml"))
        clock = RealClock()
        collector = Collector(listeners=[on_event])
        async with runner_for(prepared, gate=gate) as runner:
            entries = await dial(prepared, gate, runner, clock, collector, until_idle=True)
        assert killed == [True]
        ends = collector.ends
        assert len(ends) == 3  # every contact was dialled: the campaign went on
        assert {end.outcome.value for end in ends.values()} == {"failed"}
        first = ends[entries[0].number]
        assert first.talk_seconds > 1  # answered, then lost with the gateway
        async with store.engine.connect() as conn:
            open_attempts = (
                await conn.execute(
                    select(func.count()).select_from(ATTEMPTS).where(ATTEMPTS.c.outcome.is_(None))
                )
            ).scalar()
        assert open_attempts == 0
    finally:
        await store.close()
        victim.stop()
