"""Debian packages a command may install, only when the user asks for it (``--install``).

Why here and not in the library: the engine never installs system packages behind a user's back
(the Janus lab used to run ``apt-get`` whenever Janus was missing). A command line flag says the
user wants it; tests that need a system part install it through the same function, and fail
loudly when they cannot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping


class DebianInstallError(RuntimeError):
    """The packages could not be installed (not root, no apt-get, or apt-get failed)."""


def missing(executables: Mapping[str, str]) -> list[str]:
    """The packages (values) whose executables (keys) are not on the PATH."""
    return [package for exe, package in executables.items() if not shutil.which(exe)]


def install(executables: Mapping[str, str]) -> list[str]:
    """Install the Debian packages whose executables are missing; return what was installed.

    Args:
        executables: executable name -> the Debian package that provides it.

    Raises:
        DebianInstallError: installing was needed and failed; the message says why.
    """
    needed = missing(executables)
    if not needed:
        return []
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise DebianInstallError(
            f"{', '.join(needed)} missing and cannot be installed here (needs root and apt-get)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *needed]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise DebianInstallError(
                f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
    still = missing(executables)
    if still:
        raise DebianInstallError(f"apt-get installed {', '.join(needed)} but {still} still missing")
    return needed
