"""Separate processes on one fresh PostgreSQL store all use a campaign for the first time at
once: the campaign row is created exactly once and no process dies on the unique name.

Needs PostgreSQL on 127.0.0.1:5432 (trust auth); fails, never skips, without it.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from voicebot.sim.gate_bench import bench_numbers, run_processes
from voicebot.store import open_store
from voicebot.store.models import CAMPAIGNS

pytestmark = pytest.mark.integration


async def test_eight_processes_create_a_new_campaign_at_once(pg_url: str) -> None:
    numbers = bench_numbers(40)
    # Every worker opens the store, waits on one barrier, then its first decision creates the
    # campaign: before the fix, most of them died with a unique violation on campaigns.name.
    result = await asyncio.to_thread(
        run_processes, pg_url, None, processes=8, per_process=5, numbers=numbers
    )
    assert result.decisions == 40
    store = await open_store(pg_url, migrate=False)
    try:
        async with store.engine.connect() as conn:
            names = (await conn.execute(select(CAMPAIGNS.c.name))).scalars().all()
    finally:
        await store.close()
    assert names == ["bench"]
