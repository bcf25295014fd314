"""The campaign lease on SQLite and PostgreSQL: refused while its holder lives, taken over once
it is gone (expired, or a dead pid on this host), renewed, released, and lost loudly."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from voicebot.campaign import queue
from voicebot.campaign.lease import CampaignBusy, CampaignLease, pid_alive
from voicebot.store import Store, open_store
from voicebot.store.leases import CAMPAIGN_LEASES

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "lease.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(store_url)
    yield opened
    await opened.close()


async def _campaign(store: Store) -> int:
    return await queue.ensure_campaign(store, "leased", "notification", NOW)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    assert not pid_alive(child.pid)
    return child.pid


async def _set(store: Store, cid: int, **values: object) -> None:
    async with store.write() as conn:
        await conn.execute(
            update(CAMPAIGN_LEASES).where(CAMPAIGN_LEASES.c.campaign_id == cid).values(**values)
        )


async def test_a_live_holder_is_named_and_kept(store: Store) -> None:
    cid = await _campaign(store)
    first = CampaignLease(store, cid, "leased")
    assert await first.acquire() is None
    with pytest.raises(CampaignBusy) as refused:
        await CampaignLease(store, cid, "leased").acquire()
    message = str(refused.value)
    assert f"pid {os.getpid()} on {socket.gethostname()} since " in message
    assert "'leased'" in message and "stop that process first" in message
    assert await first.renew()
    await first.release()
    assert await CampaignLease(store, cid, "leased").acquire() is None


async def test_a_dead_pid_on_this_host_is_taken_over_at_once(store: Store) -> None:
    cid = await _campaign(store)
    gone = CampaignLease(store, cid, "leased")
    await gone.acquire()
    await _set(store, cid, pid=_dead_pid())  # the holder was killed (-9): it never released
    heir = CampaignLease(store, cid, "leased")
    previous = await heir.acquire()
    assert previous is not None and previous.host == socket.gethostname()
    assert not await gone.renew(), "the old holder must learn it lost the lease"


async def test_another_hosts_lease_is_waited_for_until_it_expires(store: Store) -> None:
    cid = await _campaign(store)
    await CampaignLease(store, cid, "leased").acquire()
    await _set(store, cid, host="dialer-b.example", pid=1)
    with pytest.raises(CampaignBusy, match=r"pid 1 on dialer-b\.example"):
        await CampaignLease(store, cid, "leased").acquire()
    await _set(store, cid, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    previous = await CampaignLease(store, cid, "leased").acquire()
    assert previous is not None and previous.host == "dialer-b.example"


async def test_a_lease_taken_from_under_its_holder_stops_it(store: Store) -> None:
    cid = await _campaign(store)
    lost = asyncio.Event()
    lease = CampaignLease(store, cid, "leased", seconds=0.3, on_lost=lost.set)
    async with lease.held():
        await asyncio.sleep(0.15)
        await _set(store, cid, token="f" * 32)  # taken over by a process that thought us gone
        await asyncio.wait_for(lost.wait(), 5)
    assert lease.lost
    async with store.engine.connect() as conn:
        tokens = (await conn.execute(select(CAMPAIGN_LEASES.c.token))).scalars().all()
    assert tokens == ["f" * 32], "releasing must not delete the new holder's lease"


async def test_renewals_keep_the_lease_and_the_end_releases_it(store: Store) -> None:
    cid = await _campaign(store)
    lease = CampaignLease(store, cid, "leased", seconds=0.3)
    async with lease.held():
        first = lease.expires_at
        await asyncio.sleep(0.5)
        assert lease.expires_at is not None and first is not None and lease.expires_at > first
        assert not lease.lost
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(CAMPAIGN_LEASES))).all() == []


async def test_racing_for_a_free_lease_exactly_one_wins(store: Store) -> None:
    cid = await _campaign(store)
    leases = [CampaignLease(store, cid, "leased") for _ in range(6)]
    outcomes = await asyncio.gather(*(lease.acquire() for lease in leases), return_exceptions=True)
    assert sum(o is None for o in outcomes) == 1, outcomes
    assert all(isinstance(o, CampaignBusy) for o in outcomes if o is not None)
