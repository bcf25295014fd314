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
