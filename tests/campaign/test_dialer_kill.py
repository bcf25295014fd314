"""kill -9 mid-campaign, then restart: nothing dialled twice for one slot, nothing left open.

Runs the real ``voicebot campaign run`` in a subprocess on the simulated media layer (calls take
0.4 s each, so several are in flight when SIGKILL lands), then a second run on the same store.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.paths import ROOT
from voicebot.privacy.number_keys import NumberKeys
from voicebot.privacy.vault.keys import load_keyring

pytestmark = pytest.mark.integration

FLOW = ROOT / "flows" / "payment_reminder.yaml"
N = 40


def _campaign(tmp: Path) -> Path:
    (tmp / "policy.yaml").write_text(
        'purposes:\n  notification:\n    window: {start: "00:00", end: "23:59:59"}\n',
        encoding="utf-8",
    )
    lines = ["number,name,simulate"]
    for i in range(N):
        lines.append(f"+1202555{100 + i:04d},c{i},{'opted_out' if i % 7 == 0 else 'completed'}")
    (tmp / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = tmp / "camp.yaml"
    path.write_text(
        f"name: killtest\nflow: {FLOW.as_posix()}\ncontacts: contacts.csv\n"
        'caller_id: "+12025550100"\ndefault_region: US\ntransport: simulated\n'
        "simulated_call_seconds: 0.4\npacing: {max_concurrent: 4, calls_per_second: 20}\n",
        encoding="utf-8",
    )
    return path


def _run(tmp: Path, camp: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "voicebot", "campaign", "run", str(camp), "--until-idle", "--dev",
           "--db", str(tmp / "k.db"), "--policy", str(tmp / "policy.yaml")]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created or not migrated yet
        return []


def test_sigkill_mid_campaign_then_restart(tmp_path: Path) -> None:
    camp = _campaign(tmp_path)
    db = tmp_path / "k.db"
    first = _run(tmp_path, camp)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = _query(db, "SELECT count(*) FROM attempts WHERE state = 'completed'")
        if done and int(done[0][0]) >= 8:
            break
        assert first.poll() is None, first.communicate()
        time.sleep(0.05)
    else:
        first.kill()
        raise AssertionError("the first run never got going")
    first.send_signal(signal.SIGKILL)
    first.wait()
    open_at_kill = _query(db, "SELECT id FROM attempts WHERE state = 'reserved'")
    dialing_at_kill = _query(db, "SELECT attempt_id FROM dialer_queue WHERE phase = 'dialing'")
    before = Counter(str(n) for (n,) in _query(db, "SELECT number_hash FROM attempts"))
    assert sum(before.values()) < N, "the kill came too late to test anything"

    second = _run(tmp_path, camp)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()

    keys = NumberKeys(load_keyring())  # the runs' keyring (the test session's config directory)
    rows = [
        (i, keys.open(sealed), state, outcome, day)
        for i, sealed, state, outcome, day in _query(
            db, "SELECT id, number_sealed, state, outcome, local_day FROM attempts"
        )
    ]
    states = Counter(str(r[2]) for r in rows)
    assert states["reserved"] == 0, "an attempt was left without an outcome"
    counted = [r for r in rows if r[2] == "completed"]
    per_slot = Counter((r[1], r[4]) for r in counted)
    assert max(per_slot.values()) == 1, "a number was dialled twice for one slot"
    assert {r[1] for r in counted} | {r[1] for r in rows if r[2] == "released"} == {
        f"+1202555{100 + i:04d}" for i in range(N)
    }
    # What was on the wire at the kill was closed as failed/interrupted, never redialled.
    interrupted = {int(a) for (a,) in dialing_at_kill if a is not None}
    failed = {int(r[0]) for r in rows if r[3] == "failed"}
    assert interrupted <= failed
    notes = _query(db, "SELECT note FROM dialer_queue WHERE last_outcome = 'failed'")
    assert all(n == ("interrupted",) for n in notes)
    assert len(notes) == len(interrupted)
    # Reservations that never reached the network were released, not counted.
    released = {int(r[0]) for r in rows if r[2] == "released"}
    assert released == {int(a) for (a,) in open_at_kill} - interrupted
    # The interrupted ones wait for their retry in a later slot; everyone else is done.
    left = _query(db, "SELECT status, last_outcome FROM dialer_queue WHERE status != 'done'")
    assert left == [("waiting", "failed")] * len(interrupted)
    assert b"closed an interrupted attempt" in err or not interrupted
