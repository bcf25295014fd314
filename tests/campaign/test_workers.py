"""Campaigns on the shared job queue (PgQueuer on PostgreSQL), several workers in one process.

Each worker has its own store connection pool and its own queue connection, as separate
processes would; the process tests are in ``test_workers_processes.py``. Simulated transport.
PostgreSQL at 127.0.0.1:5432 is required (fails, never skips, without it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.paths import ROOT
from voicebot.campaign import shared
from voicebot.campaign.config import load_campaign
from voicebot.campaign.launch import prepare
from voicebot.campaign.worker import Worker
from voicebot.cli import cli
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.store import open_store
from voicebot.store.campaign_runs import PAUSED, STOPPED

pytestmark = pytest.mark.integration
FLOW = ROOT / "flows" / "payment_reminder.yaml"
NUMBERS = [f"+1202555{100 + i:04d}" for i in range(12)]


def write_campaign(tmp: Path, name: str, scripts: list[str], seconds: float = 0.2) -> Path:
    """A simulated campaign over NUMBERS; each contact ends as its script says."""
    (tmp / "policy.yaml").write_text(
        'purposes:\n  notification:\n    window: {start: "00:00", end: "23:59:59"}\n',
        encoding="utf-8",
    )
    lines = ["number,name,simulate"]
    lines += [f"{n},c{i},{scripts[i % len(scripts)]}" for i, n in enumerate(NUMBERS)]
    (tmp / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = tmp / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nflow: {FLOW.as_posix()}\ncontacts: {name}.csv\n"
        'caller_id: "+12025550100"\ndefault_region: US\ntransport: simulated\n'
        f"simulated_call_seconds: {seconds}\n",
        encoding="utf-8",
    )
    return path


async def start(url: str, camp: Path, tmp: Path) -> tuple[int, int]:
    prepared = prepare(load_campaign(camp))
    return await shared.start(prepared, camp, tmp / "policy.yaml", url, dev=True)


async def settled(url: str, minutes_ahead: int = 1) -> bool:
    """Every contact done, or waiting for a slot the gate (or a retry) set a while away."""
    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            from sqlalchemy import text

            rows = (await conn.execute(text("SELECT status, due_at FROM dialer_queue"))).all()
    finally:
        await store.close()
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes_ahead)
    return bool(rows) and all(s == "done" or (s == "waiting" and d > soon) for s, d in rows)


async def plan(url: str) -> list[tuple[object, ...]]:
    """The contacts' states, for a failure message."""
    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            from sqlalchemy import text

            query = "SELECT campaign_id, status, phase, due_at, last_outcome FROM dialer_queue"
            return [tuple(r) for r in (await conn.execute(text(query))).all()]
    finally:
        await store.close()


async def run_workers(url: str, count: int, until: float = 90.0) -> None:
    stores = [await open_store(url) for _ in range(count)]
    workers = [Worker(s, max_calls=4) for s in stores]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        deadline = asyncio.get_running_loop().time() + until
        while not await settled(url):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the workers never settled: {await plan(url)}")
            await asyncio.sleep(0.3)
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks)
        for s in stores:
            await s.close()


async def attempts(url: str) -> list[tuple[str, str, str | None, dt.date, int]]:
    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            from sqlalchemy import text

            rows = (
                await conn.execute(
                    text(
                        "SELECT number_sealed, state, outcome, local_day, campaign_id "
                        "FROM attempts ORDER BY id"
                    )
                )
            ).all()
        return [(store.numbers.open(r[0]), r[1], r[2], r[3], r[4]) for r in rows]
    finally:
        await store.close()


async def test_eight_workers_race_two_campaigns_over_one_list_under_the_daily_cap(
    pg_url: str, tmp_path: Path
) -> None:
    # Two campaigns over the same numbers: every number is wanted twice the same day, from
    # eight workers; the daily cap (scope: all) lets one call through, the other waits.
    first = write_campaign(tmp_path, "racea", ["completed"])
    second = write_campaign(tmp_path, "raceb", ["completed", "no_answer"])
    assert await start(pg_url, first, tmp_path) == (12, 12)
    assert (await start(pg_url, second, tmp_path))[0] == 12
    await run_workers(pg_url, 8)
    rows = await attempts(pg_url)
    counted = [r for r in rows if r[1] == "completed"]
    per_day = Counter((r[0], r[3]) for r in counted)
    assert sorted(per_day) == sorted((n, counted[0][3]) for n in NUMBERS)
    assert max(per_day.values()) == 1, "a number was dialled twice in one day"
    assert not [r for r in rows if r[1] == "reserved"], "an attempt was left open"


async def test_pause_reaches_every_worker_and_resume_finishes(pg_url: str, tmp_path: Path) -> None:
    camp = write_campaign(tmp_path, "paused", ["completed"], seconds=0.1)
    await start(pg_url, camp, tmp_path)
    await shared.steer(pg_url, "paused", PAUSED)
    runner = CliRunner()
    status = await asyncio.to_thread(
        runner.invoke, cli, ["campaign", "status", "paused", "--json", "--db", pg_url]
    )
    assert json.loads(status.output)["workers"] == PAUSED
    unknown = await asyncio.to_thread(
        runner.invoke, cli, ["campaign", "stop", "nope", "--db", pg_url]
    )
    assert unknown.exit_code == 1 and "no campaign 'nope' was started" in unknown.output
    stores = [await open_store(pg_url) for _ in range(2)]
    workers = [Worker(s, max_calls=4) for s in stores]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    await asyncio.sleep(3)
    assert await attempts(pg_url) == [], "a paused campaign was dialled"
    resumed = await asyncio.to_thread(
        runner.invoke, cli, ["campaign", "resume", "paused", "--db", pg_url]
    )
    assert "active (0 job(s) queued again)" in resumed.output  # its jobs were kept, not lost
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while not await settled(pg_url):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.3)
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks)
        for s in stores:
            await s.close()
    assert Counter(r[2] for r in await attempts(pg_url)) == {"completed": 12}


async def test_stop_drops_the_jobs_everywhere_and_resume_queues_them_again(
    pg_url: str, tmp_path: Path
) -> None:
    camp = write_campaign(tmp_path, "stopped", ["completed"], seconds=0.1)
    assert await start(pg_url, camp, tmp_path) == (12, 12)
    await shared.steer(pg_url, "stopped", STOPPED)
    store = await open_store(pg_url)
    worker = Worker(store, max_calls=4)
    try:
        await asyncio.wait_for(worker.run(drain=True), 60)  # takes and drops every job
    finally:
        await store.close()
    assert await attempts(pg_url) == [], "a stopped campaign was dialled"
    assert await shared.steer(pg_url, "stopped", "active") == 12


async def test_a_young_reservation_left_by_a_lost_worker_neither_takes_the_slot_nor_stays_open(
    pg_url: str, tmp_path: Path
) -> None:
    """A worker killed between the gate's reservation and marking its contact dialing leaves a
    reservation no contact refers to. The next worker to pick the number, coming sooner than
    a heartbeat timeout after it, waits until it may release it, then dials today: the stray
    reservation neither uses up the daily cap (pushing the call to tomorrow) nor stays open."""
    camp = write_campaign(tmp_path, "young", ["completed"])
    await start(pg_url, camp, tmp_path)
    store = await open_store(pg_url)
    try:
        prepared = prepare(load_campaign(camp))
        gate = Gate(store, load_policy(tmp_path / "policy.yaml"))
        left = await gate.check_and_reserve(
            NUMBERS[0], prepared.campaign.name, prepared.purpose, dt.datetime.now(dt.UTC)
        )
        assert left.allowed and left.attempt_id is not None
        worker = Worker(store, max_calls=4, heartbeat_timeout=dt.timedelta(seconds=2))
        task = asyncio.create_task(worker.run())
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while not await settled(pg_url):
                assert asyncio.get_running_loop().time() < deadline, await plan(pg_url)
                await asyncio.sleep(0.3)
        finally:
            worker.stop()
            await task
    finally:
        await store.close()
    rows = await attempts(pg_url)
    assert not [r for r in rows if r[1] == "reserved"], rows
    first = [r for r in rows if r[0] == NUMBERS[0] and r[2] is not None]
    assert [r[2] for r in first] == ["completed"], rows
