"""A plain `pip install` (no extras) runs the embedded default: the job queue's libraries
(`postgres` extra), Whisper (`whisper`), vosk (`vosk`) and edge-tts (`edge-tts`) are imported
only by what needs them, and asking for an engine that is not installed says which extra to
install."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

_WITHOUT_EXTRAS = """
import sys

# As if the extras were not installed: importing them fails, importlib finds no spec.
for name in ("asyncpg", "pgqueuer", "faster_whisper", "opencc", "vosk", "edge_tts"):
    sys.modules[name] = None
from click.testing import CliRunner
from voicebot.cli import cli
import voicebot.commands.campaign, voicebot.commands.serve, voicebot.commands.demo
for argv in (["campaign", "run", "--help"], ["campaign", "status", "--help"], ["serve", "--help"],
             ["demo", "--help"], ["call", "--help"]):
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0 and result.exception is None, (argv, result.output)
print("ok")
"""

_ENGINES_WITHOUT_EXTRAS = (
    _WITHOUT_EXTRAS.split("from click.testing")[0]
    + """
import asyncio, os, socket, tempfile
from pathlib import Path
from voicebot.speech.asr.base import RecognizerUnavailable
from voicebot.speech.asr.vosk import load_model
from voicebot.speech.tts.base import EngineUnavailable
from voicebot.speech.tts.edge import EdgeSynthesizer
from voicebot.speech.tts.select import choose_engine

service = socket.socket()  # the edge probe is answered: only the missing extra can say no
service.bind(("127.0.0.1", 0))
service.listen()
os.environ["VOICEBOT_EDGE_PROBE"] = "127.0.0.1:%d" % service.getsockname()[1]
assert asyncio.run(choose_engine("en-US", "auto")) == "piper"
assert asyncio.run(choose_engine("zh-CN", "auto")) == "espeak"
try:
    asyncio.run(EdgeSynthesizer(cache=None).render("Hello"))
except EngineUnavailable as exc:
    assert "voicebot[edge-tts]" in str(exc), exc
else:
    raise AssertionError("edge-tts rendered without its package")
try:
    load_model(Path(tempfile.mkdtemp()))
except RecognizerUnavailable as exc:
    assert "voicebot[vosk]" in str(exc), exc
else:
    raise AssertionError("a vosk model loaded without vosk")
print("ok")
"""
)


def test_the_default_commands_need_no_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRAS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_engines_without_their_extra_say_which_extra_to_install() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _ENGINES_WITHOUT_EXTRAS],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
