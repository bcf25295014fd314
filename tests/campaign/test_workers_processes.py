"""Three ``voicebot worker`` processes share a campaign; a random one is SIGKILLed five times
mid-campaign and restarted each time.

Afterwards: no number dialled twice for one slot (day), no attempt without an outcome, every
opt-out on the do-not-call list, every contact ended as its script dictates — or, when its call
was cut by the kill, closed as ``failed`` (``worker_lost``) and planned again through the gate
(the daily cap sends it to tomorrow). Simulated transport, 24 contacts, 4 s calls, a 3 s
heartbeat timeout. PostgreSQL at 127.0.0.1:5432 is required (fails, never skips, without it).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner

from tests.paths import ROOT
from voicebot.cli import cli
from voicebot.privacy.number_keys import NumberKeys
from voicebot.privacy.vault.keys import load_keyring

pytestmark = pytest.mark.integration
FLOW = ROOT / "flows" / "payment_reminder.yaml"
N = 24
NUMBERS = [f"+1202555{100 + i:04d}" for i in range(N)]
SCRIPT = {n: ("opted_out" if i % 4 == 0 else "completed") for i, n in enumerate(NUMBERS)}
KILLS = 5


def _campaign(tmp: Path) -> Path:
    (tmp / "policy.yaml").write_text(
        'purposes:\n  notification:\n    window: {start: "00:00", end: "23:59:59"}\n',
        encoding="utf-8",
    )
    lines = ["number,name,simulate"] + [f"{n},c{i},{SCRIPT[n]}" for i, n in enumerate(NUMBERS)]
    (tmp / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = tmp / "camp.yaml"
    path.write_text(
        f"name: shared\nflow: {FLOW.as_posix()}\ncontacts: contacts.csv\n"
        'caller_id: "+12025550100"\ndefault_region: US\ntransport: simulated\n'
        "simulated_call_seconds: 4.0\n",
        encoding="utf-8",
    )
    return path


def _worker(url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VOICEBOT_DB": url}
    cmd = [sys.executable, "-m", "voicebot", "worker", "--processes", "1", "--max-calls", "2",
           "--heartbeat-timeout", "3"]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def _settled(url: str) -> bool:
    # A call cut by a kill is retried after 10 minutes (the default for failed): not in this test.
    rows = await _rows(url, "SELECT status, due_at > now() + interval '5 min' FROM dialer_queue")
    return all(status == "done" or (status == "waiting" and later) for status, later in rows)


async def test_workers_killed_mid_call_lose_nothing_and_dial_no_slot_twice(
    pg_url: str, tmp_path: Path
) -> None:
    camp = _campaign(tmp_path)
    started = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["campaign", "start", str(camp), "--dev", "--db", pg_url,
         "--policy", str(tmp_path / "policy.yaml")],
    )  # fmt: skip
    assert started.exit_code == 0, started.output
    assert f"{N} contact(s) added, {N} queued" in started.output
    workers = [_worker(pg_url) for _ in range(3)]
    rng = random.Random(17)
    kills = 0
    killed_errors: list[str] = []  # a killed worker may have taken back (and logged) a lost call
    try:
        for _ in range(KILLS):
            # Kill while calls are in flight on two of the three workers (2 calls each).
            for _ in range(1200):
                open_now = await _rows(
                    pg_url, "SELECT count(*) FROM attempts WHERE state = 'reserved'"
                )
                if int(str(open_now[0][0])) >= 3:
                    break
                await asyncio.sleep(0.05)
            victim = rng.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            killed_errors.append(workers[victim].communicate(timeout=60)[1].decode())
            kills += 1
            workers[victim] = _worker(pg_url)
            await asyncio.sleep(rng.uniform(0.5, 2.0))
        for _ in range(1200):
            if await _settled(pg_url):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the campaign never settled")
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        errors = [w.communicate(timeout=60)[1].decode() for w in workers]
    # A worker still starting (a Python process start takes seconds here) has no handler yet.
    assert all(w.returncode == 0 for w, e in zip(workers, errors, strict=True) if "ready" in e), (
        errors
    )
    assert kills == KILLS

    keys = NumberKeys(load_keyring())
    attempts = [
        (keys.open(str(sealed)), state, outcome, day)
        for sealed, state, outcome, day in await _rows(
            pg_url, "SELECT number_sealed, state, outcome, local_day FROM attempts"
        )
    ]
    assert not [a for a in attempts if a[1] == "reserved"], "an attempt was left without outcome"
    per_slot = Counter((a[0], a[3]) for a in attempts if a[1] == "completed")
    assert max(per_slot.values()) == 1, "a number was dialled twice for one slot"
    contacts = {
        keys.open(str(sealed)): (status, outcome, note)
        for sealed, status, outcome, note in await _rows(
            pg_url, "SELECT number_sealed, status, last_outcome, note FROM dialer_queue"
        )
    }
    lost = {n for n, (_, outcome, note) in contacts.items() if note == "worker_lost"}
    assert lost, "no kill landed mid-call: the test proved nothing"
    print(f"{len(lost)} call(s) cut by the kills")
    for number, (status, outcome, _) in contacts.items():
        if number in lost:  # cut by a kill: closed, and waiting for its retry (gate again)
            assert (status, outcome) == ("waiting", "failed")
        else:
            assert (status, outcome) == ("done", SCRIPT[number]), number
    dnc = {
        keys.open(str(s)) for (s,) in await _rows(pg_url, "SELECT number_sealed FROM dnc_entries")
    }
    opted = {n for n, (_, outcome, _) in contacts.items() if outcome == "opted_out"}
    assert opted and opted <= dnc
    logs = errors + killed_errors
    closed = sum(1 for e in logs for line in e.splitlines() if "closed an attempt" in line)
    assert closed == len(lost)
