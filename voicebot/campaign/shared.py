"""Hand a campaign to the shared workers, and steer it: start, pause, resume, stop.

``start`` imports the contacts into the store's plan (as ``campaign run`` does), records the
campaign's file and policy for the workers, and queues one job per contact not done (not before
it is due). ``pause``, ``resume`` and ``stop`` change the state every worker reads before each
call; ``resume`` also queues again the contacts whose jobs a ``stop`` ended.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from voicebot.campaign import jobs, queue
from voicebot.campaign.execute import approved_or_dev
from voicebot.campaign.launch import Prepared
from voicebot.campaign.stored import UnknownCampaign
from voicebot.store.campaign_runs import ACTIVE
from voicebot.store.campaigns import find_campaign_id
from voicebot.store.engine import Store, open_store

Note = Callable[[str], None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def start(
    prepared: Prepared,
    source: Path,
    policy: Path | None,
    url: str,
    *,
    dev: bool = False,
    note: Note = lambda _: None,
) -> tuple[int, int]:
    """Import and schedule ``prepared`` for the workers; returns (contacts added, jobs queued).

    Raises:
        NotPostgres: the store is not PostgreSQL.
        NotApproved: the flow is not approved and ``dev`` is off.
    """
    jobs.queue_dsn(url)
    store = await open_store(url)
    try:
        await approved_or_dev(store, prepared, dev, note)
        now = _now()
        name, purpose = prepared.campaign.name, prepared.purpose.value
        cid = await queue.ensure_campaign(store, name, purpose, now)
        first_due = max(now, prepared.campaign.schedule.start or now)
        added = await queue.seed(store, cid, prepared.contacts.contacts, first_due, now)
        await jobs.start_run(store, cid, source, policy, dev, now)
        queued = await _schedule(store, cid)
    finally:
        await store.close()
    return added, queued


async def steer(url: str, name: str, state: str) -> int:
    """Set campaign ``name``'s state for every worker; on resume, queue its contacts again.

    Returns:
        How many jobs were queued (resume only).

    Raises:
        NotPostgres: the store is not PostgreSQL.
        UnknownCampaign: no campaign of that name was started for the workers.
    """
    jobs.queue_dsn(url)
    store = await open_store(url)
    try:
        cid = await store.serialized(lambda conn: find_campaign_id(conn, name))
        if cid is None or not await jobs.set_state(store, cid, state, _now()):
            raise UnknownCampaign(
                f"no campaign {name!r} was started for the workers "
                "(start it with `voicebot campaign start FILE`)"
            )
        return await _schedule(store, cid) if state == ACTIVE else 0
    finally:
        await store.close()


async def _schedule(store: Store, cid: int) -> int:
    conn = await jobs.connect(store.url)
    try:
        from pgqueuer.queries import Queries  # with the `postgres` extra

        return await jobs.schedule(store, Queries.from_asyncpg_connection(conn), cid, _now())
    finally:
        await conn.close()
