"""``voicebot serve`` as a user runs it: a real process, listening on 127.0.0.1 only by default."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
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


def _serve(port: int, db: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "voicebot", "serve", "--port", str(port), "--db", str(db)]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_until_up(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"voicebot serve on port {port} did not answer")


async def test_sign_out_through_one_serve_process_ends_the_session_in_another(
    tmp_path: Path, repo_root: Path
) -> None:
    """Two real ``voicebot serve`` processes on one store: signing out through one of them ends
    the session that the other would still have accepted."""
    env = {**os.environ, "PYTHONPATH": str(repo_root), "XDG_DATA_HOME": str(tmp_path / "data")}
    db = tmp_path / "v.db"
    added = subprocess.run(
        [sys.executable, "-m", "voicebot", "users", "add", "agent1", "--role", "agent",
         "--password-stdin", "--db", str(db)],
        env=env, input="agent one passphrase\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    ports = (_free_port(), _free_port())
    processes = [_serve(port, db, env) for port in ports]
    try:
        for port, process in zip(ports, processes, strict=True):
            await asyncio.to_thread(_wait_until_up, port, process)
        first, second = (f"http://127.0.0.1:{port}" for port in ports)
        # Cookies are per host, not per port: this one client is the same browser to both.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{first}/api/session") as r:
                csrf = (await r.json())["csrf_token"]
            login = {"name": "agent1", "password": "agent one passphrase"}
            headers = {"X-CSRF-Token": csrf}
            async with http.post(f"{first}/api/session", json=login, headers=headers) as r:
                assert r.status == 200, await r.text()
                csrf = (await r.json())["csrf_token"]
            cookie = next(c for c in http.cookie_jar if c.key == "voicebot_session").value
            async with http.get(f"{second}/api/me") as r:
                assert r.status == 200  # the other process accepts the session ...
            async with http.delete(f"{second}/api/session", headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 200
        # ... until it is signed out there; a copy of the cookie is then refused by both.
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(), headers={"Cookie": f"voicebot_session={cookie}"}
        ) as thief:
            for base in (first, second):
                async with thief.get(f"{base}/api/me") as r:
                    assert r.status == 401, base
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.communicate(timeout=30)
