"""A campaign as the store remembers it: summaries, attempts and the report, numbers masked.

The CLI's report is built from a run in memory; auditors look later, from the web console, at
what the store kept: the campaign row, the dialer's plan, the gate's attempts and the per-call
QA. Numbers are read through the campaign queue's own readers (never from a ``number`` column
here) and leave this module masked, so nothing built on it can show a full number.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from voicebot.campaign import queue
from voicebot.campaign.results import CallResult, CampaignResults, PendingContact
from voicebot.compliance.dispositions import dispositions_of
from voicebot.outcomes import Outcome
from voicebot.privacy.masking import mask_number
from voicebot.store import Store
from voicebot.store.models import ATTEMPTS, AUDIT_EVENTS, CALL_QA, CAMPAIGNS, DIALER_QUEUE

FLOW_NOT_STORED = "(not stored)"
"""What the stored report says for the flow: the store does not keep which flow a run used."""

_OUTCOMES = {o.value for o in Outcome}


class UnknownCampaign(LookupError):
    """No campaign has this name."""


@dataclass(frozen=True)
class CampaignSummary:
    """One campaign at a glance: how many contacts, attempts, and how the attempts ended.

    ``outcomes`` counts finished attempts by outcome, plus ``in_progress`` (reserved, not yet
    finished) and ``released`` (reserved, never dialled).
    """

    name: str
    purpose: str
    created_at: dt.datetime
    contacts: int
    attempts: int
    outcomes: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "name": self.name,
            "purpose": self.purpose,
            "created_at": self.created_at.isoformat(),
            "contacts": self.contacts,
            "attempts": self.attempts,
            "outcomes": self.outcomes,
        }


@dataclass(frozen=True)
class StoredCall:
    """One attempt of a campaign as an auditor sees it (``number`` is masked).

    ``qa_passed`` is None when no checklist was stored (unanswered calls have none).
    """

    attempt_id: int
    number: str
    state: str
    outcome: str | None
    reserved_at: dt.datetime
    finished_at: dt.datetime | None
    talk_seconds: float | None
    qa_passed: bool | None
    qa_failures: tuple[str, ...]
    disposition: str | None = None
    """How the agent closed a handed-off call (sale, do_not_call, ...), if one did."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "attempt": self.attempt_id,
            "number": self.number,
            "state": self.state,
            "outcome": self.outcome,
            "reserved_at": self.reserved_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "talk_seconds": self.talk_seconds,
            "qa": None
            if self.qa_passed is None
            else {"passed": self.qa_passed, "failed": list(self.qa_failures)},
            "disposition": self.disposition,
        }


@dataclass(frozen=True)
class AttemptOwner:
    """Which campaign an attempt belongs to and its masked number (for audit rows)."""

    attempt_id: int
    campaign: str | None
    number_masked: str


async def campaign_summaries(store: Store) -> list[CampaignSummary]:
    """Every campaign, newest first, with its counts."""
    by_outcome = (
        select(
            ATTEMPTS.c.campaign_id, ATTEMPTS.c.state, ATTEMPTS.c.outcome, func.count().label("n")
        )
        .where(ATTEMPTS.c.campaign_id.is_not(None))
        .group_by(ATTEMPTS.c.campaign_id, ATTEMPTS.c.state, ATTEMPTS.c.outcome)
    )
    contacts = select(DIALER_QUEUE.c.campaign_id, func.count().label("n")).group_by(
        DIALER_QUEUE.c.campaign_id
    )
    async with store.engine.connect() as conn:
        campaigns = (
            await conn.execute(
                select(CAMPAIGNS).order_by(CAMPAIGNS.c.created_at.desc(), CAMPAIGNS.c.id.desc())
            )
        ).all()
        outcome_rows = (await conn.execute(by_outcome)).all()
        contact_counts = {r.campaign_id: int(r.n) for r in (await conn.execute(contacts)).all()}
    outcomes: dict[int, Counter[str]] = {}
    for r in outcome_rows:
        key = _attempt_status(r.state, r.outcome)
        outcomes.setdefault(r.campaign_id, Counter())[key] += int(r.n)
    return [
        CampaignSummary(
            name=c.name,
            purpose=c.purpose,
            created_at=c.created_at,
            contacts=contact_counts.get(c.id, 0),
            attempts=sum(outcomes.get(c.id, Counter()).values()),
            outcomes=dict(sorted(outcomes.get(c.id, Counter()).items())),
        )
        for c in campaigns
    ]


async def campaign_calls(store: Store, name: str) -> list[StoredCall]:
    """The campaign's attempts, oldest first, with their QA verdicts.

    Raises:
        UnknownCampaign: no campaign is called ``name``.
    """
    cid, _ = await _campaign(store, name)
    return await _calls(store, cid, await queue.attempts(store, cid))


async def _calls(store: Store, cid: int, attempts: list[queue.AttemptRow]) -> list[StoredCall]:
    numbers = {a.id: a.number for a in attempts}
    query = (
        select(
            ATTEMPTS.c.id,
            ATTEMPTS.c.state,
            ATTEMPTS.c.outcome,
            ATTEMPTS.c.reserved_at,
            ATTEMPTS.c.finished_at,
            ATTEMPTS.c.talk_seconds,
            CALL_QA.c.passed,
            CALL_QA.c.failures,
        )
        .outerjoin(CALL_QA, CALL_QA.c.attempt_id == ATTEMPTS.c.id)
        .where(ATTEMPTS.c.campaign_id == cid)
        .order_by(ATTEMPTS.c.id)
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    dispositions = await dispositions_of(store, [r.id for r in rows])
    return [
        StoredCall(
            attempt_id=r.id,
            number=mask_number(numbers.get(r.id, "")),
            state=r.state,
            outcome=r.outcome,
            reserved_at=r.reserved_at,
            finished_at=r.finished_at,
            talk_seconds=r.talk_seconds,
            qa_passed=r.passed,
            qa_failures=tuple(r.failures or ()),
            disposition=dispositions.get(r.id),
        )
        for r in rows
    ]


async def stored_results(store: Store, name: str) -> CampaignResults:
    """The campaign as report values, one row per planned contact, numbers masked.

    Contacts the dialer planned show their last outcome (or why they were not called); attempts
    made outside the dialer's plan (gate reservations by hand) are listed one row each.

    Raises:
        UnknownCampaign: no campaign is called ``name``.
    """
    cid, row = await _campaign(store, name)
    entries = await queue.load(store, cid)
    attempts = await queue.attempts(store, cid)
    calls = await _calls(store, cid, attempts)
    by_id = {c.attempt_id: c for c in calls}
    latest: dict[str, int] = {}
    for a in attempts:  # oldest first: the last one seen per number is the latest
        latest[a.number] = a.id
    planned = {e.number for e in entries}
    results = CampaignResults(
        name=name,
        flow=FLOW_NOT_STORED,
        purpose=row.purpose,
        started_at=row.created_at,
        finished_at=max((c.finished_at for c in calls if c.finished_at), default=None),
    )
    for entry in entries:
        label = entry.fields.get("name") or f"line {entry.line}"
        last = by_id.get(latest[entry.number]) if entry.number in latest else None
        results.calls.append(_contact_result(entry, label, last, row.created_at))
    for a in attempts:
        if a.number not in planned:
            results.calls.append(_attempt_result(by_id[a.id]))
    return results


async def attempt_owner(store: Store, attempt_id: int) -> AttemptOwner | None:
    """The campaign and masked number of an attempt, or None when there is no such attempt."""
    query = (
        select(ATTEMPTS.c.campaign_id, CAMPAIGNS.c.name)
        .outerjoin(CAMPAIGNS, CAMPAIGNS.c.id == ATTEMPTS.c.campaign_id)
        .where(ATTEMPTS.c.id == attempt_id)
    )
    async with store.engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    masked = ""
    if row.campaign_id is not None:
        found = [a for a in await queue.attempts(store, row.campaign_id) if a.id == attempt_id]
        masked = mask_number(found[0].number) if found else ""
    return AttemptOwner(attempt_id, row.name, masked)


async def blocked_counts(store: Store, name: str, since: dt.datetime | None = None) -> Counter[str]:
    """How often each compliance reason refused a dial of campaign ``name`` (from ``since``).

    Counted from the gate's audit rows, not from a run's memory: a contact blocked by the window
    and dialled later still counts, and so do the blocks of earlier runs when ``since`` is None.
    """
    cid, _ = await _campaign(store, name)
    query = select(AUDIT_EVENTS.c.reasons).where(
        AUDIT_EVENTS.c.campaign_id == cid,
        AUDIT_EVENTS.c.kind.in_(("reserve", "check")),
        AUDIT_EVENTS.c.allowed.is_(False),
    )
    if since is not None:
        query = query.where(AUDIT_EVENTS.c.at >= since)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return Counter(str(reason) for row in rows for reason in (row.reasons or ()))


@dataclass(frozen=True)
class Pending:
    """A contact still planned: masked number, when it is due, and why (its last outcome)."""

    number: str
    label: str
    due_at: dt.datetime | None
    last_outcome: str | None


async def pending_contacts(store: Store, name: str) -> list[Pending]:
    """Contacts of ``name`` not done yet (waiting for a retry, a callback, or a first call)."""
    cid, _ = await _campaign(store, name)
    return [
        Pending(
            mask_number(e.number),
            e.fields.get("name") or f"line {e.line}",
            e.due_at,
            e.last_outcome,
        )
        for e in await queue.load(store, cid)
        if e.status in (queue.WAITING, queue.ACTIVE)
    ]


FLOW_PREFIX = "flow."
"""Flow variables are kept among the contact's sealed fields under this prefix."""


async def keep_flow_variables(store: Store, entry_id: int, variables: dict[str, str]) -> None:
    """Seal what the flow set during a call (``rating``, ``confirmed``...) with the contact's
    fields, as ``flow.<name>``, so the results export shows who confirmed what."""
    if not variables:
        return
    keys = store.numbers
    row = DIALER_QUEUE.c

    def unit(conn: Any) -> None:
        sealed = conn.execute(select(row.fields_sealed).where(row.id == entry_id)).scalar_one()
        fields = keys.open_fields(sealed)
        fields.update({f"{FLOW_PREFIX}{k}": v for k, v in variables.items()})
        conn.execute(
            DIALER_QUEUE.update()
            .where(row.id == entry_id)
            .values(fields_sealed=keys.seal_fields(fields))
        )

    await store.serialized(unit)


def _why(last_outcome: str | None) -> str:
    if last_outcome is None:
        return "first call"
    return "callback" if last_outcome == "callback" else f"retry after {last_outcome}"


async def add_store_facts(store: Store, results: CampaignResults) -> CampaignResults:
    """Complete a run's results with what only the store knows: every block of this run (also
    of contacts dialled later) and the contacts still planned (then the run stopped, not
    finished)."""
    results.blocks = await blocked_counts(store, results.name, since=results.started_at)
    results.pending = [
        PendingContact(p.number, p.label, p.due_at, _why(p.last_outcome))
        for p in await pending_contacts(store, results.name)
    ]
    return results


async def _campaign(store: Store, name: str) -> tuple[int, Any]:
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.name == name))).first()
    if row is None:
        raise UnknownCampaign(f"no campaign named {name!r}")
    return int(row.id), row


def _attempt_status(state: str, outcome: str | None) -> str:
    if state == "reserved":
        return "in_progress"
    if state == "released":
        return "released"
    return outcome or state


def _contact_result(
    entry: queue.Entry, label: str, last: StoredCall | None, created: dt.datetime
) -> CallResult:
    shown = mask_number(entry.number)
    at = last.reserved_at if last is not None else created
    if entry.last_outcome in _OUTCOMES and last is not None:
        return CallResult(
            shown,
            label,
            at,
            Outcome(entry.last_outcome),
            last.talk_seconds or 0.0,
            qa_failures=last.qa_failures,
        )
    if entry.status == queue.ACTIVE:
        reasons: tuple[str, ...] = ("in_progress",)
    else:
        reasons = tuple(entry.last_reasons) or ("not_yet_due",)
    return CallResult(shown, label, at, None, 0.0, reasons, entry.due_at)


def _attempt_result(call: StoredCall) -> CallResult:
    label = f"attempt {call.attempt_id}"
    if call.outcome in _OUTCOMES:
        return CallResult(
            call.number,
            label,
            call.reserved_at,
            Outcome(call.outcome),
            call.talk_seconds or 0.0,
            qa_failures=call.qa_failures,
        )
    return CallResult(call.number, label, call.reserved_at, None, 0.0, (call.state,))
