"""Two ``voicebot campaign run`` processes on one campaign, on SQLite and on PostgreSQL: the
second is refused with the holder's name; once the first is killed (-9), a new run takes the
campaign over and finishes it, with nothing dialled twice for one slot and nothing left open.

Real processes on the simulated media layer (calls take 0.5 s, so a call is in flight at the
kill). PostgreSQL at 127.0.0.1:5432 is required (fails, never skips, without it).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
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
N = 40


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "lease.db")
    return str(request.getfixturevalue("pg_url"))


def _campaign(tmp: Path) -> Path:
    (tmp / "policy.yaml").write_text(
        'purposes:\n  notification:\n    window: {start: "00:00", end: "23:59:59"}\n',
        encoding="utf-8",
    )
    lines = ["number,name,simulate"] + [f"+1202555{100 + i:04d},c{i},completed" for i in range(N)]
    (tmp / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = tmp / "camp.yaml"
    path.write_text(
        f"name: leased\nflow: {FLOW.as_posix()}\ncontacts: contacts.csv\n"
        'caller_id: "+12025550100"\ndefault_region: US\ntransport: simulated\n'
        "simulated_call_seconds: 0.5\npacing: {max_concurrent: 8, calls_per_second: 20}\n",
        encoding="utf-8",
    )
    return path


def _run(tmp: Path, camp: Path, db: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "voicebot", "campaign", "run", str(camp), "--until-idle", "--dev",
           "--db", db, "--policy", str(tmp / "policy.yaml"), *extra]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _query(db: str, sql: str) -> list[tuple[object, ...]]:
    if db.startswith("postgresql"):

        async def fetch() -> list[tuple[object, ...]]:
            conn = await asyncpg.connect(db, timeout=10)
            try:
                return [tuple(r) for r in await conn.fetch(sql)]
            finally:
                await conn.close()

        try:
            return asyncio.run(fetch())
        except asyncpg.UndefinedTableError:  # not migrated yet
            return []
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created or not migrated yet
        return []


def _wait_for_calls(db: str, first: subprocess.Popen[bytes], count: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        done = _query(db, "SELECT count(*) FROM attempts WHERE state = 'completed'")
        if done and int(str(done[0][0])) >= count:
            return
        assert first.poll() is None, first.communicate()
        time.sleep(0.05)
    first.kill()
    raise AssertionError("the first run never got going")


def test_one_process_per_campaign_and_takeover_after_kill(tmp_path: Path, db_url: str) -> None:
    camp = _campaign(tmp_path)
    # One call at a time (20 s in all), so the first run is still dialling when the second
    # has started; the heir runs eight at a time.
    first = _run(tmp_path, camp, db_url, "--max-concurrent", "1")
    try:
        _wait_for_calls(db_url, first, 2)
        second = _run(tmp_path, camp, db_url)
        _, refused = second.communicate(timeout=120)
        assert second.returncode == 1, refused.decode()
        message = " ".join(refused.decode().split())  # rich wraps long lines
        assert f"already being run by pid {first.pid} on {socket.gethostname()} since" in message
        assert first.poll() is None, "the refused run must leave the running one alone"
        # The refused run's recovery never touched the first one's live calls.
        assert _query(db_url, "SELECT count(*) FROM attempts WHERE outcome = 'failed'")[0][0] == 0
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert len(_query(db_url, "SELECT * FROM campaign_leases")) == 1, "kill -9 leaves the lease"
    status = CliRunner().invoke(cli, ["campaign", "status", "leased", "--json", "--db", db_url])
    assert status.exit_code == 0, status.output
    running = json.loads(status.output)["running"]
    assert (running["pid"], running["gone"]) == (first.pid, True), running
    # On the wire: marked dialing, its attempt still open (a call that had just ended, its
    # contact not yet saved, keeps its outcome; the heir finishes the bookkeeping).
    dialing_at_kill = _query(
        db_url,
        "SELECT q.attempt_id FROM dialer_queue q JOIN attempts a ON a.id = q.attempt_id "
        "WHERE q.phase = 'dialing' AND a.state = 'reserved'",
    )

    heir = _run(tmp_path, camp, db_url)
    _, err = heir.communicate(timeout=180)
    assert heir.returncode == 0, err.decode()
    assert f"took the campaign over from pid {first.pid}" in " ".join(err.decode().split())
    assert _query(db_url, "SELECT * FROM campaign_leases") == [], "a clean end releases it"

    keys = NumberKeys(load_keyring())
    rows = _query(db_url, "SELECT number_sealed, state, outcome, local_day FROM attempts")
    assert Counter(str(r[1]) for r in rows)["reserved"] == 0, "an attempt was left open"
    counted = Counter((keys.open(str(r[0])), r[3]) for r in rows if r[1] == "completed")
    assert max(counted.values()) == 1, "a number was dialled twice for one slot"
    failed = [r for r in rows if r[2] == "failed"]
    assert len(failed) == len(dialing_at_kill), "only the calls on the wire at the kill failed"
