"""Stopping a process mid-call: SIGTERM to ``voicebot serve --campaign`` and to ``voicebot
campaign run`` while a loopback persona is on the line. Each stops dialling, ends the call with
an outcome (failed, "interrupted"), then closes the store: no attempt is left ``reserved``, the
contact is not shown active, and nothing is written after shutdown.

Real processes, real loopback calls (aiortc peers on 127.0.0.1) to the ``silent`` persona, who
answers and says nothing, so the call is still going when the signal lands.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.paths import ROOT

pytestmark = pytest.mark.integration
FLOW = ROOT / "flows" / "payment_reminder.yaml"


def _campaign(tmp: Path) -> Path:
    (tmp / "policy.yaml").write_text(
        'purposes:\n  notification:\n    window: {start: "00:00", end: "23:59:59"}\n'
        "    holidays: {public: false, weekends: false, extra_dates: []}\n",
        encoding="utf-8",
    )
    (tmp / "contacts.csv").write_text(
        "number,name,account_tail,amount,due_date,persona\n"
        "+12025550141,Ann,4321,$20,Friday,silent\n"
        "+12025550142,Bob,8765,$30,Friday,silent\n",
        encoding="utf-8",
    )
    path = tmp / "camp.yaml"
    path.write_text(
        f"name: stopping\nflow: {FLOW.as_posix()}\ncontacts: contacts.csv\n"
        'caller_id: "+12025550100"\ndefault_region: US\ntransport: loopback\n'
        "pacing: {max_concurrent: 1, calls_per_second: 1}\n",
        encoding="utf-8",
    )
    return path


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created or not migrated yet
        return []


def _sigterm_mid_call(process: subprocess.Popen[str], db: Path) -> str:
    """Wait until a call is on the wire (answered by now), SIGTERM, return the output."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if _query(db, "SELECT id FROM dialer_queue WHERE phase = 'dialing'"):
            break
        if process.poll() is not None:
            raise AssertionError(process.communicate()[0])
        time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError(f"no call was placed: {process.communicate()[0]}")
    time.sleep(2.0)  # rung (1 s) and answered: the bot is talking to the persona
    assert process.poll() is None, "the call ended before the signal"
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"did not stop after SIGTERM: {process.communicate()[0]}") from None
    return output


def _assert_closed(db: Path, output: str) -> None:
    assert "cannot schedule new futures" not in output, output
    assert "Traceback" not in output, output
    attempts = _query(db, "SELECT state, outcome FROM attempts")
    assert attempts == [("completed", "failed")], (attempts, output)  # one call, ended
    queue = _query(db, "SELECT status, phase, last_outcome, note FROM dialer_queue ORDER BY line")
    assert ("active",) not in {(r[0],) for r in queue}, queue
    assert queue[0][1:] == (None, "failed", "interrupted"), queue
    assert _query(db, "SELECT * FROM campaign_leases") == [], "the lease was not released"


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(tmp / "data")}


def test_sigterm_to_serve_mid_call_ends_the_call_then_closes_the_store(tmp_path: Path) -> None:
    camp = _campaign(tmp_path)
    db = tmp_path / "v.db"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "voicebot", "serve", "--port", str(port), "--db", str(db),
               "--campaign", str(camp), "--dev",
               "--policy", str(tmp_path / "policy.yaml")]  # fmt: skip
    process = subprocess.Popen(
        command, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = _sigterm_mid_call(process, db)
    assert "[stopping] shutting down: no new calls; ending the calls under way" in output, output
    assert "[stopping] +1 202***0141: failed" in output, output
    _assert_closed(db, output)


def test_sigterm_to_campaign_run_mid_call_ends_the_call(tmp_path: Path) -> None:
    camp = _campaign(tmp_path)
    db = tmp_path / "v.db"
    command = [sys.executable, "-m", "voicebot", "campaign", "run", str(camp), "--dev",
               "--db", str(db), "--policy", str(tmp_path / "policy.yaml")]  # fmt: skip
    process = subprocess.Popen(
        command, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = _sigterm_mid_call(process, db)
    assert process.returncode == 0, output
    assert "ending the calls under way" in output and "202***0141: failed" in output, output
    _assert_closed(db, output)
