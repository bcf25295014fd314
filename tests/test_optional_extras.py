"""A plain `pip install` (no extras) runs the embedded default: the job queue's libraries
(`postgres` extra) and Whisper (`whisper` extra) are imported only by what needs them."""

from __future__ import annotations

import subprocess
import sys

_WITHOUT_EXTRAS = """
import importlib.abc, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"asyncpg", "pgqueuer", "faster_whisper", "opencc"}:
            raise ModuleNotFoundError(f"No module named {name!r} (extra not installed)")
        return None

sys.meta_path.insert(0, Absent())
from click.testing import CliRunner
from voicebot.cli import cli
import voicebot.commands.campaign, voicebot.commands.serve, voicebot.commands.demo
for argv in (["campaign", "run", "--help"], ["campaign", "status", "--help"], ["serve", "--help"],
             ["demo", "--help"], ["call", "--help"]):
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0 and result.exception is None, (argv, result.output)
print("ok")
"""


def test_the_default_commands_need_no_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRAS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
