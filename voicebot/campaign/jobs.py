"""The dial plan on a PostgreSQL job queue (PgQueuer): one job per contact, shared by workers.

Why PgQueuer (see docs/architecture.md): asyncio and asyncpg like the store, a ``dedupe_key``
that holds at most one queued-or-picked job per key, ``execute_after`` for "not before", and
heartbeats after which a killed worker's jobs are picked again — no periodic sweeper of ours.

- A job is a number's, keyed ``dial:<number hash>``: one queued-or-running job per number. It
  serves every campaign's contact with that number, one call at a time.
- A job stays the number's while any of its contacts is not done: a retry, a callback or a
  gate's ``not_before`` sends it back to the queue (``RetryRequested``) with its delay, so the
  key is never released between two attempts.
- The queue is at-least-once. The contact's row (``phase`` ``dialing``, committed before the
  runner may reach the network) and the gate's reserved attempt make a second pick harmless:
  a job that finds its contact ``active`` closes the attempt as ``failed`` (``worker_lost``)
  and sends the contact back through the gate — it never redials that slot.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, make_url

from voicebot.campaign import queue
from voicebot.store.campaign_runs import ACTIVE, CAMPAIGN_RUNS, STATES
from voicebot.store.engine import Store
from voicebot.store.models import CAMPAIGNS, DIALER_QUEUE

if TYPE_CHECKING:  # the queue's libraries come with the `postgres` extra; SQLite needs neither
    import asyncpg
    from pgqueuer.queries import Queries

ENTRYPOINT = "voicebot_dial"
"""The one kind of job: dial one contact of one campaign (payload: their ids)."""


class NotPostgres(ValueError):
    """Workers share a campaign through PostgreSQL only."""


def queue_dsn(url: str) -> str:
    """The asyncpg DSN of a store URL (``postgresql+asyncpg://...``).

    Raises:
        NotPostgres: the store is SQLite (or anything else).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise NotPostgres(
            f"workers need a PostgreSQL store (postgresql+asyncpg://...), not {parsed.drivername}"
            " (with SQLite, run the campaign in one process: `voicebot campaign run FILE`)"
        )
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


async def connect(url: str) -> asyncpg.Connection:
    """A connection for the queue, its schema installed (once, under the library's lock)."""
    import asyncpg
    from pgqueuer.queries import Queries

    conn: asyncpg.Connection = await asyncpg.connect(queue_dsn(url))
    queries = Queries.from_asyncpg_connection(conn)
    if not await queries.schema_is_installed():
        async with queries.schema_lock():
            if not await queries.schema_is_installed():
                await queries.install()
    return conn


def dedupe_key(number_hash: str) -> str:
    """One queued-or-running job per number (its keyed hash: no number in the queue)."""
    return f"dial:{number_hash}"


def payload(number_hash: str) -> bytes:
    """What a job carries: the number's keyed hash (the contact's data stays sealed)."""
    return json.dumps({"number": number_hash}).encode()


def read_payload(data: bytes | None) -> str:
    """The number hash of a job."""
    return str(json.loads(data or b"{}")["number"])


@dataclass(frozen=True)
class Planned:
    """A contact not done, of a campaign handed to the workers, as a job sees it."""

    campaign_id: int
    entry_id: int
    status: str
    due_at: dt.datetime | None
    state: str
    """The campaign's: active, paused or stopped."""


async def planned(store: Store, number_hash: str) -> list[Planned]:
    """Every contact with this number hash not done, in campaigns handed to the workers."""
    query = (
        select(
            DIALER_QUEUE.c.campaign_id,
            DIALER_QUEUE.c.id,
            DIALER_QUEUE.c.status,
            DIALER_QUEUE.c.due_at,
            CAMPAIGN_RUNS.c.state,
        )
        .join(CAMPAIGN_RUNS, CAMPAIGN_RUNS.c.campaign_id == DIALER_QUEUE.c.campaign_id)
        .where(DIALER_QUEUE.c.number_hash == number_hash)
        .where(DIALER_QUEUE.c.status != queue.DONE)
        .order_by(DIALER_QUEUE.c.id)
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [Planned(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def schedule(store: Store, queries: Queries, campaign_id: int, now: dt.datetime) -> int:
    """Queue a job for every contact not done, not before it is due; returns how many were new.

    A number that already has a job (this campaign's or another's) is skipped by the queue's
    dedupe key: that job serves every campaign's contact with the number, one step at a time.
    So scheduling twice (a resume, a restart) adds nothing.
    """
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(DIALER_QUEUE.c.id, DIALER_QUEUE.c.number_hash, DIALER_QUEUE.c.due_at)
                .where(DIALER_QUEUE.c.campaign_id == campaign_id)
                .where(DIALER_QUEUE.c.status != queue.DONE)
                .order_by(DIALER_QUEUE.c.line)
            )
        ).all()
    if not rows:
        return 0
    delays: list[dt.timedelta | None] = [
        max(r.due_at - now, dt.timedelta(0)) if r.due_at is not None else None for r in rows
    ]
    ids = await queries.enqueue(
        [ENTRYPOINT] * len(rows),
        [payload(r.number_hash) for r in rows],
        [0] * len(rows),
        delays,
        [dedupe_key(r.number_hash) for r in rows],
        on_conflict="skip",
    )
    return sum(1 for i in ids if i is not None)


@dataclass(frozen=True)
class CampaignRun:
    """A campaign handed to the workers."""

    campaign_id: int
    name: str
    source: Path
    policy: Path | None
    state: str
    dev: bool


async def start_run(
    store: Store,
    campaign_id: int,
    source: Path,
    policy: Path | None,
    dev: bool,
    now: dt.datetime,
) -> None:
    """Record (or refresh) the campaign's file and policy, and make it active."""
    values: dict[str, Any] = {
        "source": str(source.resolve()),
        "policy": str(policy.resolve()) if policy is not None else None,
        "state": ACTIVE,
        "dev": dev,
        "updated_at": now,
    }

    def unit(conn: Connection) -> None:
        found = conn.execute(
            select(CAMPAIGN_RUNS.c.campaign_id).where(CAMPAIGN_RUNS.c.campaign_id == campaign_id)
        ).first()
        if found is None:
            conn.execute(CAMPAIGN_RUNS.insert().values(campaign_id=campaign_id, **values))
        else:
            conn.execute(
                update(CAMPAIGN_RUNS)
                .where(CAMPAIGN_RUNS.c.campaign_id == campaign_id)
                .values(**values)
            )

    await store.serialized(unit)


async def set_state(store: Store, campaign_id: int, state: str, now: dt.datetime) -> bool:
    """Pause, resume or stop a campaign for every worker; False if it was never started."""
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")

    def unit(conn: Connection) -> bool:
        done = conn.execute(
            update(CAMPAIGN_RUNS)
            .where(CAMPAIGN_RUNS.c.campaign_id == campaign_id)
            .values(state=state, updated_at=now)
        )
        return bool(done.rowcount)

    return await store.serialized(unit)


async def run_of(store: Store, campaign_id: int) -> CampaignRun | None:
    """The campaign's run as the workers see it, or None if it was never started."""
    query = (
        select(CAMPAIGN_RUNS, CAMPAIGNS.c.name)
        .join(CAMPAIGNS, CAMPAIGNS.c.id == CAMPAIGN_RUNS.c.campaign_id)
        .where(CAMPAIGN_RUNS.c.campaign_id == campaign_id)
    )
    async with store.engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    return CampaignRun(
        row.campaign_id,
        row.name,
        Path(row.source),
        Path(row.policy) if row.policy else None,
        row.state,
        row.dev,
    )
