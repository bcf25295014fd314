"""A week of campaign in seconds: the real dialer, gate, store and a simulated clock.

Only the media layer is simulated (scripted call endings per contact, see
:mod:`voicebot.sim.scripted_runner`). Every assertion reads the gate's attempt log: whatever the
dialer believed, what it actually reserved and dialled must have respected windows, holidays,
1 call a day, 3 a week, freezes, do-not-call, and callbacks at (or after) the time asked for.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from voicebot.campaign import queue
from voicebot.campaign.clock import SimulatedClock
from voicebot.campaign.config import Callbacks, Pacing, Retry
from voicebot.campaign.contacts import Contact
from voicebot.campaign.dialer import Dialer, DialPlan
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.compliance.rules import freeze_number
from voicebot.outcomes import Outcome
from voicebot.purpose import Purpose
from voicebot.sim.scripted_runner import SimulatedRunner
from voicebot.store import Store, open_store
from voicebot.store.models import ATTEMPTS, DNC_ENTRIES

NY = ZoneInfo("America/New_York")
START = dt.datetime(2026, 11, 23, 6, 0, tzinfo=NY)  # Monday, before the window opens
END = START + dt.timedelta(days=7)
THANKSGIVING = dt.date(2026, 11, 26)  # a US public holiday: no marketing calls
EXTRA_HOLIDAY = dt.date(2026, 11, 28)  # listed in the policy file
FROZEN = {f"+1202555{n:04d}" for n in range(190, 195)}
FREEZE_FROM = dt.datetime(2026, 11, 24, 0, 0, tzinfo=NY)
FREEZE_UNTIL = dt.datetime(2026, 11, 27, 12, 0, tzinfo=NY)


def _script(i: int) -> str:
    if i < 30:
        return "no_answer"
    if i < 45:
        return "busy"
    if i < 55:
        return "failed;no_answer;completed"
    if i < 65:
        return "opted_out"
    if i < 75:
        return "callback@2026-11-23T22:30:00-05:00;completed"  # asks for a time after hours
    if i < 80:
        return "callback@14:00;completed"
    if i < 90:
        return "refused"
    return "no_answer;no_answer;completed"


CONTACTS = [
    Contact(f"+1202555{100 + i:04d}", {"name": f"c{i}", "simulate": _script(i)}, i + 2)
    for i in range(100)
]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "week.db"))
    yield opened
    await opened.close()


async def test_a_week_of_campaign_keeps_every_rule(store: Store, tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        "purposes:\n  marketing:\n    holidays: {public: true, weekends: false, "
        f"extra_dates: [{EXTRA_HOLIDAY.isoformat()}]}}\n",
        encoding="utf-8",
    )
    gate = Gate(store, load_policy(policy_file))
    for number in FROZEN:

        def unit(conn: Connection, number: str = number) -> None:
            freeze_number(conn, store.numbers, number, FREEZE_FROM, 0, "test", "test")

        await store.serialized(unit)
    async with store.write() as conn:  # stretch the freezes to the chosen end
        from sqlalchemy import update

        from voicebot.store.models import FREEZES

        await conn.execute(update(FREEZES).values(until=FREEZE_UNTIL))
    clock = SimulatedClock(START)
    runner = SimulatedRunner()
    plan = DialPlan(
        "week",
        Purpose.MARKETING,
        "+12025550100",
        pacing=Pacing(max_concurrent=8, calls_per_second=2),
        retry={
            Outcome.NO_ANSWER: Retry(after=3600, max=10),
            Outcome.BUSY: Retry(after=900, max=10),
            Outcome.FAILED: Retry(after=600, max=3),
        },
        callbacks=Callbacks(default_delay=86400, max=2),
    )
    dialer = Dialer(store, gate, plan, runner, clock)
    assert await dialer.prepare(CONTACTS) == 100
    entries = await dialer.run(until=END)
    assert clock.now() <= END + dt.timedelta(days=1)

    async with store.engine.connect() as conn:
        rows = [
            SimpleNamespace(**r._mapping, number=store.numbers.open(r.number_sealed))
            for r in (await conn.execute(select(ATTEMPTS).order_by(ATTEMPTS.c.id))).all()
        ]
        dnc = {
            store.numbers.open(s)
            for s in (await conn.execute(select(DNC_ENTRIES.c.number_sealed))).scalars()
        }
    assert rows, "nothing was dialled"
    assert {r.state for r in rows} == {"completed"}, "an attempt was left without an outcome"
    assert sum(runner.dialled.values()) == len(rows)
    assert Counter(r.number for r in rows) == Counter(runner.dialled)

    by_number: dict[str, list[dt.datetime]] = defaultdict(list)
    for r in rows:
        local = r.reserved_at.astimezone(NY)
        assert dt.time(8, 0) <= local.time() < dt.time(21, 0), f"outside the window: {local}"
        assert local.date() not in (THANKSGIVING, EXTRA_HOLIDAY), f"holiday call: {local}"
        assert r.local_day == local.date()
        if r.number in FROZEN:
            assert not FREEZE_FROM <= r.reserved_at < FREEZE_UNTIL, f"frozen call: {local}"
        by_number[r.number].append(local)
    called_days = {t.date() for times in by_number.values() for t in times}
    assert {dt.date(2026, 11, 25), dt.date(2026, 11, 27)} <= called_days  # around the holiday
    for number, times in by_number.items():
        days = Counter(t.date() for t in times)
        assert max(days.values()) == 1, f"two calls in a day to {number}: {times}"
        for first in days:
            week = [d for d in days if first <= d < first + dt.timedelta(days=7)]
            assert len(week) <= 3, f"more than 3 calls in 7 days to {number}: {sorted(days)}"

    opted = {c.number for c in CONTACTS[55:65]}
    assert dnc == opted
    for number in opted:
        assert len(by_number[number]) == 1, "a number was called again after opting out"

    # Always-unanswered numbers are retried once a day, three times in the week, then capped.
    for contact in CONTACTS[:45]:
        if contact.number not in FROZEN:
            assert len(by_number[contact.number]) == 3, by_number[contact.number]
    # Callbacks asked for 22:30 (after hours) happen at the next opening, on the next
    # allowed day (the cap allows one call a day), and never before the time asked.
    asked = dt.datetime(2026, 11, 23, 22, 30, tzinfo=NY)
    for contact in CONTACTS[65:75]:
        first, second = sorted(by_number[contact.number])[:2]
        assert second >= asked and second.time() >= dt.time(8, 0)
        assert second.date() == dt.date(2026, 11, 24)
    # "14:00" means 14:00 that day, but one call a day moves it to the next day's opening.
    for contact in CONTACTS[75:80]:
        second = sorted(by_number[contact.number])[1]
        assert second >= dt.datetime(2026, 11, 23, 14, 0, tzinfo=NY)
        assert second.date() == dt.date(2026, 11, 24) and second.time() < dt.time(9, 0)
    # Scripts that end in "completed" did end there, and nothing is left in flight.
    final = {e.number: e for e in entries}
    for contact in CONTACTS[45:55]:
        if contact.number not in FROZEN:
            assert final[contact.number].last_outcome == Outcome.COMPLETED.value
    assert all(e.status != queue.ACTIVE and e.attempt_id is None for e in entries)
    blocked_frozen = [final[n] for n in FROZEN]
    assert all(e.last_outcome is not None for e in blocked_frozen)
