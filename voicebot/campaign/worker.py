"""A worker: takes dial jobs from the shared queue and places the calls, for any campaign.

Several workers (processes, machines) share one PostgreSQL store and its job queue
(:mod:`voicebot.campaign.jobs`). Each job is one contact: the worker reads the campaign's state
(``pause``, ``resume`` and ``stop`` reach every worker through the store), asks the gate, dials
through the same dialer as ``voicebot campaign run`` and sends the job back to the queue for the
contact's next step (a retry, a callback, the gate's ``not_before``).

A worker loads each campaign it meets once (its file, flow, policy, runner) and keeps it until
it stops; the file must be readable at the same path on every worker host.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from pgqueuer import QueueManager, RetryRequested
from pgqueuer.models import Job
from pgqueuer.queries import Queries
from pgqueuer.types import QueueExecutionMode

from voicebot.campaign import jobs, queue
from voicebot.campaign.clock import Clock, RealClock
from voicebot.campaign.config import load_campaign
from voicebot.campaign.dialer import Dialer, DialerEvent, DialPlan
from voicebot.campaign.execute import approved_or_dev, campaign_vault
from voicebot.campaign.launch import prepare, runner_for
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.store.campaign_runs import ACTIVE, STOPPED
from voicebot.store.engine import Store

log = logging.getLogger(__name__)

WORKER_LOST = "worker_lost"
"""The reason of an attempt whose worker vanished mid-call (its job was taken back)."""
HEARTBEAT_TIMEOUT = dt.timedelta(seconds=30)
"""After this long without a heartbeat a job is picked again (its worker is taken for lost)."""
PAUSED_RECHECK = dt.timedelta(seconds=2)
"""How soon a paused campaign's job looks again (it goes back to the queue meanwhile)."""

Note = Callable[[str], None]


@dataclass
class _Campaign:
    dialer: Dialer
    stack: contextlib.AsyncExitStack


class Worker:
    """Runs dial jobs for every active campaign of ``store``.

    Args:
        store: the shared PostgreSQL store.
        clock: real (tests may pass a simulated one).
        max_calls: calls at once in this worker (at least 2: the queue's per-worker cap).
        listener: told of every dialer step (progress lines).
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        max_calls: int = 10,
        listener: Callable[[DialerEvent], None] | None = None,
        note: Note = lambda _: None,
        heartbeat_timeout: dt.timedelta = HEARTBEAT_TIMEOUT,
    ) -> None:
        self.store = store
        self.clock = clock or RealClock()
        self.max_calls = max_calls
        self.listener = listener
        self.note = note
        self.heartbeat_timeout = heartbeat_timeout
        self._campaigns: dict[int, _Campaign] = {}
        self._loading = asyncio.Lock()
        self.manager: QueueManager | None = None

    async def run(self, *, drain: bool = False) -> None:
        """Take jobs until :meth:`stop` (or, with ``drain``, until the queue is empty)."""
        conn = await jobs.connect(self.store.url)
        try:
            manager = QueueManager(Queries.from_asyncpg_connection(conn))
            self.manager = manager

            # Not the entrypoint's concurrency_limit: PgQueuer enforces that across all workers.
            @manager.entrypoint(jobs.ENTRYPOINT)
            async def dial(job: Job) -> None:
                await self.handle(job)

            mode = QueueExecutionMode.drain if drain else QueueExecutionMode.continuous
            await manager.run(
                dequeue_timeout=dt.timedelta(seconds=5),
                batch_size=max(1, self.max_calls // 2),
                max_concurrent_tasks=max(2, self.max_calls),
                mode=mode,
                heartbeat_timeout=self.heartbeat_timeout,
            )
        finally:
            self.manager = None
            await self.close()
            await conn.close()

    def stop(self) -> None:
        """Take no new job; return from :meth:`run` once the calls under way have ended."""
        if self.manager is not None:
            self.manager.shutdown.set()

    async def close(self) -> None:
        """Close every campaign's runner."""
        campaigns, self._campaigns = self._campaigns, {}
        for loaded in campaigns.values():
            await loaded.stack.aclose()

    async def handle(self, job: Job) -> None:
        """One step for one number: close what a lost worker left, then dial its contact that
        is due first. Raises ``RetryRequested`` to come back when the next one is due."""
        number_hash = jobs.read_payload(job.payload)
        contacts = [c for c in await jobs.planned(self.store, number_hash) if c.state != STOPPED]
        lost = [c for c in contacts if c.status == queue.ACTIVE and c.state != STOPPED]
        for found in lost:
            # Taken back from a worker that stopped heartbeating mid-call.
            entry = await queue.load_one(self.store, found.campaign_id, found.entry_id)
            if entry is not None and entry.status == queue.ACTIVE:
                loaded = await self._campaign(found.campaign_id)
                await loaded.dialer.close_lost(entry, WORKER_LOST)
        if lost:
            contacts = [
                c for c in await jobs.planned(self.store, number_hash) if c.state != STOPPED
            ]
        due = [c for c in contacts if c.state == ACTIVE]
        if due:
            first = min(due, key=lambda c: (c.due_at or self.clock.now(), c.entry_id))
            if not self._delay(first.due_at):
                await self._dial(first)
                contacts = [
                    c for c in await jobs.planned(self.store, number_hash) if c.state != STOPPED
                ]
        delays = [self._delay(c.due_at) if c.state == ACTIVE else PAUSED_RECHECK for c in contacts]
        if delays:
            raise RetryRequested(min(delays), "planned again")

    async def _dial(self, planned: jobs.Planned) -> None:
        loaded = await self._campaign(planned.campaign_id)
        entry = await queue.load_one(self.store, planned.campaign_id, planned.entry_id)
        if entry is None or entry.status != queue.WAITING:
            return
        young = await self._sweep_stale(planned.campaign_id, entry.number, entry.attempt_id)
        if young:
            # A lost worker's reservation too young to release would count against the daily
            # cap and push this contact to tomorrow, leaving the attempt open until then.
            raise RetryRequested(young, "a lost worker's reservation is not yet releasable")
        await loaded.dialer.dial_entry(entry)

    def _delay(self, due: dt.datetime | None) -> dt.timedelta:
        if due is None:
            return dt.timedelta(0)
        return max(due - self.clock.now(), dt.timedelta(0))

    async def _sweep_stale(self, cid: int, number: str, held: int | None) -> dt.timedelta:
        """Release this number's reservations that no contact refers to, older than a worker
        may take to mark one ``dialing``: a worker killed between the two left them. Returns
        how long until the youngest one left may be released (zero when none is left)."""
        now = self.clock.now()
        wait = dt.timedelta(0)
        for attempt in await queue.attempts(self.store, cid, "reserved"):
            if attempt.number != number or attempt.id == held:
                continue
            age = now - attempt.reserved_at
            if age > self.heartbeat_timeout:
                await loaded_gate(self._campaigns[cid]).release(attempt.id, now)
            else:
                wait = max(wait, self.heartbeat_timeout - age + dt.timedelta(milliseconds=100))
        return wait

    async def _campaign(self, cid: int) -> _Campaign:
        async with self._loading:
            found = self._campaigns.get(cid)
            if found is not None:
                return found
            run = await jobs.run_of(self.store, cid)
            assert run is not None
            prepared = prepare(load_campaign(run.source))
            policy = load_policy(run.policy)
            await approved_or_dev(self.store, prepared, run.dev, self.note)
            gate = Gate(self.store, policy)
            stack = contextlib.AsyncExitStack()
            vault = campaign_vault(self.store, self.note)
            runner = await stack.enter_async_context(
                runner_for(prepared, self.note, gate=gate, vault=vault)
            )
            plan = DialPlan.of(prepared.campaign, prepared.purpose, prepared.loaded.flow.locale)
            dialer = Dialer(self.store, gate, plan, runner, self.clock, self.listener)
            dialer.campaign_id = cid
            loaded = _Campaign(dialer, stack)
            self._campaigns[cid] = loaded
            return loaded


def loaded_gate(loaded: _Campaign) -> Gate:
    """The gate a loaded campaign dials through."""
    return loaded.dialer.gate
