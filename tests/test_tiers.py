"""The tiers hold: this module is unmarked (fast tier), so every real part it tries to start is
refused by the guard in conftest.py, and the markers the guard names are registered."""

from __future__ import annotations

import multiprocessing
import socket
import subprocess
import sys

import aiortc
import piper
import pytest

from tests.conftest import RealPartStarted, _runs_voicebot
from tests.paths import ROOT
from tests.tiers import FIXTURE_MARKERS, PARTS
from voicebot.speech.tts.piper import DEFAULT_VOICE, voice_files


def test_an_unmarked_test_cannot_create_an_aiortc_peer() -> None:
    with pytest.raises(RealPartStarted, match="aiortc peer: mark it `integration`"):
        aiortc.RTCPeerConnection()


def test_an_unmarked_test_cannot_reach_postgresql() -> None:
    with (
        pytest.raises(RealPartStarted, match="`integration` and `postgres`"),
        socket.socket() as sock,
    ):
        sock.connect(("127.0.0.1", 5432))


def test_an_unmarked_test_cannot_start_voicebot_or_a_worker_process() -> None:
    with pytest.raises(RealPartStarted, match="voicebot process"):
        subprocess.run([sys.executable, "-m", "voicebot", "--help"], check=False)
    with pytest.raises(RealPartStarted, match="worker process"):
        multiprocessing.get_context("spawn").Process(target=print).start()
    # Other programs run: the import-layer and type checks are subprocesses too.
    done = subprocess.run([sys.executable, "-c", "print('ok')"], capture_output=True, check=True)
    assert done.stdout.strip() == b"ok"


def test_what_counts_as_starting_voicebot() -> None:
    assert _runs_voicebot([sys.executable, "-m", "voicebot", "demo"])
    assert _runs_voicebot([sys.executable, "-m", "voicebot.cli"])
    assert _runs_voicebot([str(ROOT / ".venv" / "bin" / "voicebot"), "worker"])
    assert _runs_voicebot([sys.executable, "-c", "from voicebot.cli import cli; cli()"])
    assert _runs_voicebot([sys.executable, str(ROOT / ".venv" / "bin" / "voicebot"), "demo"])
    assert not _runs_voicebot(["/home/me/voicebot/.venv/bin/python", "-m", "mypy"])
    assert not _runs_voicebot([sys.executable, "-m", "ruff", "check", "voicebot", "tests"])
    assert not _runs_voicebot("ls")


def test_an_unmarked_test_cannot_load_a_speech_model() -> None:
    model, config = voice_files(DEFAULT_VOICE)
    with pytest.raises(RealPartStarted, match="Piper voice"):
        piper.PiperVoice.load(model, config_path=config)


def test_the_part_markers_are_registered(pytestconfig: pytest.Config) -> None:
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert {"integration", *PARTS} <= registered
    assert set(FIXTURE_MARKERS.values()) <= set(PARTS)
