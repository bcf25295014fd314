"""Integration: the Janus lab the bench uses leaves nothing behind: no process, no namespace."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.system_parts import install_janus_lab
from voicebot.sim.janus_lab import JanusLab
from voicebot.telephony import Codec, HangupCause
from voicebot.telephony.janus import JanusTransport

pytestmark = [pytest.mark.integration, pytest.mark.janus, pytest.mark.timeout(90)]


async def test_lab_places_a_call_then_leaves_nothing_behind(tmp_path: Path) -> None:
    install_janus_lab()
    name = f"vb-labtest-{os.getpid()}"
    with JanusLab(tmp_path, name=name) as lab:
        far = lab.far_end("uas_busy", 5095)
        transport = JanusTransport(lab.config(codec=Codec.PCMA))
        try:
            leg = await transport.dial(
                "+12025550160", "+12025550123", 5, uri=far.uri.format(number="1")
            )
            assert await leg.wait_ended() is HangupCause.BUSY
        finally:
            await transport.close()
        assert lab.janus.cpu_seconds() > 0
        janus_pid = lab.janus.proc.pid if lab.janus.proc else 0
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert name not in namespaces
    assert not Path(f"/proc/{janus_pid}").exists()
    assert far.proc is not None and far.proc.poll() is not None
