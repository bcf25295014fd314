"""``voicebot serve`` as a user runs it: a real process, listening on 127.0.0.1 only by default."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from voicebot.commands.serve import is_loopback_host

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as the kernel lists them) of sockets listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(address)
    return found


def test_serve_answers_on_loopback_only(tmp_path: Path, repo_root: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(repo_root), "XDG_DATA_HOME": str(tmp_path / "data")}
    command = [sys.executable, "-m", "voicebot", "serve", "--port", str(port),
               "--db", str(tmp_path / "v.db")]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        document = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/openapi.json"
                with urllib.request.urlopen(url, timeout=2) as response:
                    document = response.read()
                break
            except OSError:
                time.sleep(0.2)
        assert document is not None, "voicebot serve did not answer"
        assert b'"openapi": "3.1.0"' in document
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 and nothing else
        assert (tmp_path / "data" / "voicebot" / "session.key").exists()
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in output


def test_loopback_hosts_are_recognized() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1")
    assert is_loopback_host("localhost")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("example.org")


def test_serve_runs_a_campaign_beside_the_console(tmp_path: Path, repo_root: Path) -> None:
    """``serve --campaign``: the server dials the campaign (here on the simulated carrier) and
    writes its report beside the campaign file when it finishes, while the console answers."""
    (tmp_path / "policy.yaml").write_text(
        'purposes:\n  notification:\n    window: {start: "00:00", end: "23:59:59"}\n',
        encoding="utf-8",
    )
    (tmp_path / "contacts.csv").write_text(
        "number,name,simulate\n+12025550101,Ann,completed\n+12025550102,Bob,opted_out\n",
        encoding="utf-8",
    )
    flow = (repo_root / "flows" / "payment_reminder.yaml").as_posix()
    (tmp_path / "camp.yaml").write_text(
        f"name: servetest\nflow: {flow}\ncontacts: contacts.csv\n"
        'caller_id: "+12025550100"\ndefault_region: US\ntransport: simulated\n'
        "simulated_call_seconds: 0\n",
        encoding="utf-8",
    )
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(repo_root), "XDG_DATA_HOME": str(tmp_path / "data")}
    command = [sys.executable, "-m", "voicebot", "serve", "--port", str(port),
               "--db", str(tmp_path / "v.db"), "--campaign", str(tmp_path / "camp.yaml"),
               "--dev", "--policy", str(tmp_path / "policy.yaml")]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    report = tmp_path / "servetest-report.html"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None and not report.exists():
            time.sleep(0.2)
        assert report.exists(), "the campaign's report was not written"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
            assert response.status == 200  # the console still answers
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "[servetest] +1 202***0102: opted_out" in output, output
    assert "[servetest] finished; report:" in output
    assert "--dev: running an unapproved flow" in output
    assert "2025550101" not in output and "2025550102" not in output
