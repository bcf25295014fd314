"""The dialer: asks the gate, waits for ``not_before`` (no polling), dials, records, retries.

One asyncio task schedules; one task per call runs it. Every step is durable before the next:

1. the gate reserves the attempt (written before anything else happens);
2. the contact is marked ``dialing`` (committed) before the runner may reach the network;
3. the outcome is recorded through the gate (do-not-call, freeze rule, review queue), then the
   contact's next step (retry, callback, done) is committed.

After a crash, :meth:`Dialer.prepare` closes what was in flight: an attempt marked ``dialing``
without an outcome may have rung a phone, so it is completed as ``failed`` ("interrupted") and
keeps counting toward the caps; a reservation that never got the mark is released. Nothing is
dialled twice for one slot, and no attempt is left without an outcome. Recovery assumes this
process alone runs the campaign: callers hold its lease first (:mod:`voicebot.campaign.lease`).

Stopping is orderly: :meth:`Dialer.stop` lets calls under way end, :meth:`Dialer.interrupt` (or
cancelling :meth:`Dialer.run`) ends them now, each with an outcome (``failed``, "interrupted"),
and :meth:`Dialer.run` returns only once every call task has finished writing, so the store can
be closed behind it. A call task that fails never stalls the schedule: every task's end wakes it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from voicebot.call.placement import opt_out_hook
from voicebot.call.session import CallHooks
from voicebot.call.transfer import ConnectedAgent, HandoffHook, TransferAsk
from voicebot.campaign import queue
from voicebot.campaign.callbacks import callback_time
from voicebot.campaign.clock import Clock
from voicebot.campaign.config import Callbacks, Campaign, Pacing, Retry, Schedule
from voicebot.campaign.contacts import Contact
from voicebot.campaign.queue import Entry
from voicebot.campaign.runner import CallEnd, CallRequest, CallRunner
from voicebot.campaign.stored import keep_flow_variables
from voicebot.compliance.decision import Reason
from voicebot.compliance.dispositions import Disposition, record_disposition
from voicebot.compliance.gate import Gate
from voicebot.compliance.rules import AttemptStateError
from voicebot.handoff.desk import AgentDesk, DispositionRecord
from voicebot.handoff.offers import offer_for
from voicebot.outcomes import Outcome
from voicebot.privacy import mask_number
from voicebot.purpose import Purpose
from voicebot.store.engine import Store

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"
_IDLE = dt.timedelta(days=3650)
_SAY_WAIT = dt.timedelta(seconds=30)
"""An idle wait longer than this is announced (a ``waiting`` event): never wait silently."""


@dataclass(frozen=True)
class DialPlan:
    """What the dialer needs of a campaign (the flow itself is the runner's business)."""

    name: str
    purpose: Purpose
    caller_id: str
    ring_timeout: float = 30.0
    pacing: Pacing = field(default_factory=Pacing)
    retry: dict[Outcome, Retry] = field(default_factory=dict)
    callbacks: Callbacks = field(default_factory=Callbacks)
    schedule: Schedule = field(default_factory=Schedule)
    locale: str = "zh-CN"
    """The flow's locale (how handoff context is redacted)."""

    @classmethod
    def of(cls, campaign: Campaign, purpose: Purpose, locale: str = "zh-CN") -> DialPlan:
        """The plan of a loaded campaign; ``purpose`` is the campaign's or its flow's."""
        return cls(
            campaign.name,
            purpose,
            campaign.caller_id,
            campaign.ring_timeout,
            campaign.pacing,
            dict(campaign.retry),
            campaign.callbacks,
            campaign.schedule,
            locale,
        )


@dataclass(frozen=True)
class DialerEvent:
    """Progress for a live display: ``blocked``, ``dialing``, ``ended``, ``recovered``,
    ``waiting`` (idle until ``due``)."""

    kind: str
    entry: Entry
    at: dt.datetime
    outcome: Outcome | None = None
    reasons: tuple[str, ...] = ()
    end: CallEnd | None = None
    due: dt.datetime | None = None
    """``waiting``: when the next contact is due."""

    @property
    def masked(self) -> str:
        """The contact's number as a screen may show it."""
        return mask_number(self.entry.number)


Listener = Callable[[DialerEvent], None]


class Dialer:
    """Runs one campaign's plan to the end (or to ``until``) with at most N calls at once.

    Args:
        store: the open store (the plan lives in it beside the gate's attempt log).
        gate: the compliance gate every dial goes through.
        plan: the campaign's pacing, retries and callbacks.
        runner: places and runs each call.
        clock: real, or simulated in tests.
        listener: told of every step (live progress, reports).
    """

    def __init__(
        self,
        store: Store,
        gate: Gate,
        plan: DialPlan,
        runner: CallRunner,
        clock: Clock,
        listener: Listener | None = None,
        desk: AgentDesk | None = None,
    ) -> None:
        self.store = store
        self.desk = desk
        self.gate = gate
        self.plan = plan
        self.runner = runner
        self.clock = clock
        self.listener = listener
        self.campaign_id: int | None = None
        self.entries: dict[int, Entry] = {}
        self._due: list[tuple[dt.datetime, int, int]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._paused = False
        self._stopping = False
        self._agent_callbacks: dict[int, dt.datetime] = {}
        self._asking: set[str] = set()
        """Numbers whose decision was asked for and never came back (cancelled mid-commit?)."""
        """Callbacks agents asked for while their call was still being closed."""

    # ---- control -------------------------------------------------------------------------

    def pause(self) -> None:
        """Dial nothing new until :meth:`resume`; calls under way go on."""
        self._paused = True
        self._poke()

    def resume(self) -> None:
        """Dial again."""
        self._paused = False
        self._poke()

    def stop(self) -> None:
        """Dial nothing new and return from :meth:`run` once the calls under way have ended."""
        self._stopping = True
        self._poke()

    def interrupt(self) -> None:
        """Dial nothing new and end the calls under way now (each recorded as ``failed``,
        "interrupted", then planned by the retry rules); :meth:`run` returns once they are."""
        self.stop()
        for task in list(self._running):
            task.cancel()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping

    @property
    def paused(self) -> bool:
        """Whether dialling is paused."""
        return self._paused

    # ---- setup ---------------------------------------------------------------------------

    async def prepare(self, contacts: Iterable[Contact]) -> int:
        """Create the campaign, add contacts not yet planned, and close what a crash left open.

        Returns:
            How many contacts were added to the plan.
        """
        now = self.clock.now()
        cid = await queue.ensure_campaign(self.store, self.plan.name, self.plan.purpose.value, now)
        self.campaign_id = cid
        first_due = max(now, self.plan.schedule.start or now)
        added = await queue.seed(self.store, cid, contacts, first_due, now)
        await self._recover(cid)
        return added

    async def _recover(self, cid: int) -> None:
        now = self.clock.now()
        entries = await queue.load(self.store, cid)
        by_attempt = {e.attempt_id: e for e in entries if e.attempt_id is not None}
        attempts = {a.id: a for a in await queue.attempts(self.store, cid)}
        ours = {e.number for e in entries}
        for attempt in attempts.values():
            if attempt.state != "reserved":
                continue
            entry = by_attempt.get(attempt.id)
            if entry is not None and entry.phase == queue.DIALING:
                # It may have rung a phone: it happened, and it counts. Never redial this slot.
                await self.gate.record_outcome(attempt.id, Outcome.FAILED, 0.0, now)
                self._after_call(entry, CallEnd(Outcome.FAILED, 0.0, INTERRUPTED), now)
                await queue.save(self.store, entry, now)
                self._emit("recovered", entry, outcome=Outcome.FAILED, reasons=(INTERRUPTED,))
            elif entry is not None or attempt.number in ours:
                # Reserved, never marked dialing: it never reached the network. Without an entry
                # it is stale: a decision for one of our contacts committed while the task that
                # asked for it was being cancelled (we hold the lease: no other dialer asked).
                await self.gate.release(attempt.id, now)
                if entry is not None:
                    entry.attempt_id, entry.phase, entry.status = None, None, queue.WAITING
                    entry.due_at = now
                    await queue.save(self.store, entry, now)
        for entry in entries:
            if entry.status != queue.ACTIVE or entry.attempt_id is None:
                continue
            done = attempts.get(entry.attempt_id)
            if done is not None and done.state == "completed" and done.outcome:
                # Crashed after the outcome was recorded, before the plan was updated.
                end = CallEnd(Outcome(done.outcome), done.talk_seconds or 0.0)
                self._after_call(entry, end, now)
                await queue.save(self.store, entry, now)
        self.entries = {e.id: e for e in await queue.load(self.store, cid)}
        self._due = [
            (e.due_at or now, e.line, e.id)
            for e in self.entries.values()
            if e.status == queue.WAITING
        ]
        heapq.heapify(self._due)

    # ---- one contact at a time (a shared worker's job) ------------------------------------

    async def dial_entry(self, entry: Entry) -> None:
        """Ask the gate for ``entry`` now and, if allowed, place the call and record its end.

        For a worker running one job per contact (:mod:`voicebot.campaign.worker`): the
        contact's next step (done, or waiting until ``due_at``) is in ``entry`` on return.
        Cancelling this ends the call as ``failed`` ("interrupted"), recorded.
        """
        self.entries[entry.id] = entry
        try:
            if await self._try(entry, self.clock.now()):
                task = next(t for t in self._running if t.get_name() == f"call-{entry.id}")
                await task
        finally:
            self.entries.pop(entry.id, None)
            self._due.clear()  # a worker's queue holds the schedule, not this heap

    async def close_lost(self, entry: Entry, reason: str) -> None:
        """Close what a lost worker left of ``entry`` (its job was taken back from it).

        An attempt marked ``dialing`` may have rung a phone: it ends ``failed`` with ``reason``
        and counts toward the caps (never redialled for that slot); a reservation that never got
        the mark is released. Either way the contact is planned again by the retry rules.
        """
        now = self.clock.now()
        attempt_id = entry.attempt_id
        if attempt_id is None:
            entry.status, entry.phase, entry.due_at = queue.WAITING, None, now
        elif entry.phase == queue.DIALING:
            end = CallEnd(Outcome.FAILED, 0.0, reason)
            try:
                await self.gate.record_outcome(attempt_id, Outcome.FAILED, 0.0, now)
            except AttemptStateError:
                done = await queue.attempt(self.store, attempt_id)
                if done is not None and done.outcome:  # ended after all: its outcome stands
                    end = CallEnd(Outcome(done.outcome), done.talk_seconds or 0.0)
            self._after_call(entry, end, now)
            self._emit("recovered", entry, outcome=end.outcome, reasons=(reason,))
        else:
            await self.gate.release(attempt_id, now)
            entry.attempt_id, entry.phase = None, None
            entry.status, entry.due_at = queue.WAITING, now
        await queue.save(self.store, entry, now)

    # ---- the schedule --------------------------------------------------------------------

    async def run(self, until: dt.datetime | None = None) -> list[Entry]:
        """Dial until every contact is done, or until nothing is due before ``until``.

        Returns:
            Every contact's entry as it stands at the end.
        """
        if self.campaign_id is None:
            raise RuntimeError("call prepare() first")
        try:
            await self._schedule(until)
        except BaseException:
            # Cancelled (a server shutting down) or failed: end the calls under way with an
            # outcome and give back reservations this task never learnt about, before the
            # caller closes the store.
            self._stopping = True
            await self._end_calls()
            try:
                await self._sweep_stale()
            except Exception:
                log.exception("could not release stale reservations; the next start does")
            raise
        return sorted(self.entries.values(), key=lambda e: e.line)

    async def _schedule(self, until: dt.datetime | None) -> None:
        assert self.campaign_id is not None
        pacing = self.plan.pacing
        gap = dt.timedelta(seconds=1.0 / pacing.calls_per_second)
        next_dial = self.clock.now()
        async with self.clock.working():
            while not self._stopping:
                now = self.clock.now()
                while (
                    not self._paused
                    and not self._stopping
                    and self._due
                    and self._due[0][0] <= now
                    and next_dial <= now
                    and len(self._running) < pacing.max_concurrent
                ):
                    _, _, entry_id = heapq.heappop(self._due)
                    if await self._try(self.entries[entry_id], now):
                        next_dial = now + gap
                    now = self.clock.now()
                if not self._running and (
                    not self._due or (until is not None and self._due[0][0] > until)
                ):
                    break
                wake_at = now + _IDLE
                if self._due and not self._paused and len(self._running) < pacing.max_concurrent:
                    wake_at = max(self._due[0][0], next_dial)
                if not self._running and self._due and self._due[0][0] - now > _SAY_WAIT:
                    # Idle until a retry or callback is due: say what and when, once.
                    self._emit("waiting", self.entries[self._due[0][2]], due=self._due[0][0])
                self._wake.clear()
                await self.clock.sleep_until(wake_at, self._wake)
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
        if self._asking:
            await self._sweep_stale()

    async def _end_calls(self) -> None:
        """Cancel every call under way and wait until each has recorded its outcome."""
        running = list(self._running)
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    async def _sweep_stale(self) -> None:
        """Release the reservations of decisions this dialer asked for and never heard back.

        A decision whose task was cancelled (or failed) while it was being committed may have
        reserved an attempt that no contact refers to: it never reached the network. Only our
        contacts' numbers are looked at, so a manual ``voicebot call`` counting under this
        campaign's name is left alone.
        """
        assert self.campaign_id is not None
        if not self._asking:
            return
        held = {e.attempt_id for e in self.entries.values() if e.attempt_id is not None}
        now = self.clock.now()
        for attempt in await queue.attempts(self.store, self.campaign_id, "reserved"):
            if attempt.id not in held and attempt.number in self._asking:
                await self.gate.release(attempt.id, now)
        self._asking.clear()

    async def _try(self, entry: Entry, now: dt.datetime) -> bool:
        """Ask the gate; start the call if allowed, else reschedule or close. True if dialled."""
        end = self.plan.schedule.end
        if end is not None and now >= end:
            entry.status, entry.last_reasons = queue.DONE, ["campaign_ended"]
            entry.last_outcome = entry.last_outcome or "blocked"
            await queue.save(self.store, entry, now)
            self._emit("blocked", entry, reasons=("campaign_ended",))
            return False
        self._asking.add(entry.number)  # kept if this await never returns (see _sweep_stale)
        decision = await self.gate.check_and_reserve(
            entry.number, self.plan.name, self.plan.purpose, now
        )
        self._asking.discard(entry.number)
        reasons = tuple(r.value for r in decision.reasons)
        if not decision.allowed:
            entry.last_reasons = list(reasons)
            never = decision.not_before is None or Reason.DNC in decision.reasons
            if never:
                entry.status, entry.due_at = queue.DONE, None
                entry.last_outcome = entry.last_outcome or "blocked"
            else:
                assert decision.not_before is not None
                entry.due_at = max(decision.not_before, now + dt.timedelta(seconds=1))
                heapq.heappush(self._due, (entry.due_at, entry.line, entry.id))
            await queue.save(self.store, entry, now)
            self._emit("blocked", entry, reasons=reasons)
            return False
        entry.attempt_id = decision.attempt_id
        task = asyncio.create_task(self._call(entry), name=f"call-{entry.id}")
        self._running.add(task)
        task.add_done_callback(self._call_done)
        return True

    def _call_done(self, task: asyncio.Task[None]) -> None:
        """Whatever became of a call task, the schedule wakes (a slot is free, or it may end)."""
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a call task failed", exc_info=task.exception())
        self._poke()

    async def _call(self, entry: Entry) -> None:
        assert entry.attempt_id is not None
        async with self.clock.working():
            now = self.clock.now()
            entry.status, entry.phase, entry.last_reasons = queue.ACTIVE, queue.DIALING, []
            entry.due_at = None  # while active, due_at holds a requested callback time
            try:
                await queue.save(self.store, entry, now)
            except BaseException:
                await asyncio.shield(self.gate.release(entry.attempt_id, self.clock.now()))
                raise
            self._emit("dialing", entry)
            request = CallRequest(
                entry.number,
                self.plan.caller_id,
                entry.fields,
                entry.attempt_id,
                self.plan.ring_timeout,
            )
            try:
                end = await self.runner(request, self._hooks(entry))
            except asyncio.CancelledError:
                await asyncio.shield(self._finish(entry, CallEnd(Outcome.FAILED, 0.0, INTERRUPTED)))
                raise
            except Exception as exc:  # a broken runner fails this call, not the campaign
                log.exception("call to %s failed", mask_number(entry.number))
                end = CallEnd(Outcome.FAILED, 0.0, f"{type(exc).__name__}: {exc}")
            await self._finish(entry, end)
            # Woken while still working on the clock's time, so a simulated clock cannot jump
            # before the schedule has seen this slot free (the done callback wakes it too).
            self._wake.set()

    async def _finish(self, entry: Entry, end: CallEnd) -> None:
        """Record ``end``; if the store refuses, log it and leave the call to the next start's
        recovery (it stays ``dialing`` there) rather than end the task with an exception."""
        try:
            await self._complete(entry, end)
        except Exception:
            log.exception(
                "could not record the end of the call to %s; the next start closes it",
                mask_number(entry.number),
            )

    async def _complete(self, entry: Entry, end: CallEnd) -> None:
        assert entry.attempt_id is not None
        now = self.clock.now()
        try:
            await self.gate.record_outcome(entry.attempt_id, end.outcome, end.talk_seconds, now)
        except AttemptStateError as exc:
            # Closed by someone else (an operator's tool; never a live dialer, the lease sees to
            # that): its recorded outcome stands, and this contact's plan still moves on.
            log.warning("attempt %s was already closed: %s", entry.attempt_id, exc)
            end = CallEnd(Outcome.FAILED, end.talk_seconds, f"{type(exc).__name__}: {exc}")
        await keep_flow_variables(self.store, entry.id, end.variables)
        self._after_call(entry, end, now)
        await queue.save(self.store, entry, now)
        if entry.status == queue.WAITING and entry.due_at is not None:
            heapq.heappush(self._due, (entry.due_at, entry.line, entry.id))
        self._emit("ended", entry, outcome=end.outcome, end=end)

    def _after_call(self, entry: Entry, end: CallEnd, now: dt.datetime) -> None:
        """The contact's next step after ``end``: a retry, a callback, or done."""
        outcome = end.outcome
        callback_at = entry.due_at if entry.status == queue.ACTIVE else None
        entry.attempt_id, entry.phase = None, None
        entry.last_outcome, entry.note = outcome.value, end.reason
        retry = self.plan.retry.get(outcome)
        if retry is not None and entry.used(outcome.value) < retry.max:
            entry.tries[outcome.value] = entry.used(outcome.value) + 1
            entry.status, entry.due_at = queue.WAITING, now + retry.delay
        elif outcome is Outcome.CALLBACK and entry.used("callback") < self.plan.callbacks.max:
            entry.tries["callback"] = entry.used("callback") + 1
            default = now + dt.timedelta(seconds=self.plan.callbacks.default_delay)
            entry.status, entry.due_at = queue.WAITING, callback_at or default
        else:
            entry.status, entry.due_at = queue.DONE, None
        agent_callback = self._agent_callbacks.pop(entry.id, None)
        if agent_callback is not None and outcome is Outcome.HANDOFF:
            entry.status, entry.due_at = queue.WAITING, agent_callback  # the agent's wrap-up

    # ---- what a call asks of the engine -------------------------------------------------

    def _hooks(self, entry: Entry) -> CallHooks:
        async def callback(when: str | None) -> None:
            now = self.clock.now()
            default = now + dt.timedelta(seconds=self.plan.callbacks.default_delay)
            entry.due_at = callback_time(when, entry.number, now, default)
            await queue.save(self.store, entry, now)

        # The same opt-out as ``voicebot call``: durable before the goodbye, in the policy's scope.
        opt_out = opt_out_hook(
            self.gate, entry.number, self.plan.name, entry.attempt_id, self.clock.now
        )
        return CallHooks(opt_out=opt_out, handoff=self._handoff_hook(entry), callback=callback)

    def _handoff_hook(self, entry: Entry) -> HandoffHook | None:
        """Hand the caller to the desk's agents; their disposition feeds the compliance rules
        (and a ``callback`` plans the contact again)."""
        desk = self.desk
        if desk is None:
            return None
        attempt_id = entry.attempt_id
        assert attempt_id is not None

        async def on_disposition(record: DispositionRecord) -> None:
            await record_disposition(
                self.store, self.gate.policy, attempt_id, record.disposition, record.agent,
                record.at, note=record.note, callback_at=record.callback_at,
            )  # fmt: skip
            if record.disposition is not Disposition.CALLBACK:
                return
            due = record.callback_at or record.at + dt.timedelta(
                seconds=self.plan.callbacks.default_delay
            )
            if entry.status == queue.ACTIVE:  # the call is still being closed: it plans this
                self._agent_callbacks[entry.id] = due
                return
            entry.status, entry.due_at = queue.WAITING, due
            await queue.save(self.store, entry, record.at)
            heapq.heappush(self._due, (due, entry.line, entry.id))
            self._poke()

        async def handoff(ask: TransferAsk) -> ConnectedAgent | None:
            offer = offer_for(
                ask,
                offer_id=f"{self.plan.name}-{attempt_id}",
                number=entry.number,
                locale=self.plan.locale,
                created_at=self.clock.now(),
                campaign=self.plan.name,
                contact=entry.fields.get("name"),
            )
            return await desk.request(offer, ask.handoff.timeout, on_disposition)

        return handoff

    def _poke(self) -> None:
        self._wake.set()
        self.clock.poke()

    def _emit(
        self,
        kind: str,
        entry: Entry,
        *,
        outcome: Outcome | None = None,
        reasons: tuple[str, ...] = (),
        end: CallEnd | None = None,
        due: dt.datetime | None = None,
    ) -> None:
        if self.listener is not None:
            self.listener(DialerEvent(kind, entry, self.clock.now(), outcome, reasons, end, due))
