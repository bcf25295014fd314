"""System parts the tests start (Chromium, Janus, SIPp): installed from Debian's packages when
missing, through the same function as the commands' ``--install``; a test that cannot get them
fails loudly, it never skips."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from voicebot.commands.debian import DebianInstallError, install
from voicebot.sim.janus_lab import PACKAGES


def install_or_fail(executables: Mapping[str, str]) -> None:
    """Install the packages whose executables are missing, or fail the test saying why."""
    try:
        install(executables)
    except DebianInstallError as exc:
        pytest.fail(f"cannot install {', '.join(executables.values())}: {exc}")


def install_janus_lab() -> None:
    """Janus and SIPp for the lab's namespace."""
    install_or_fail(PACKAGES)
