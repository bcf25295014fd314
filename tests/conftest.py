"""Test-wide isolation: no test writes into the user's data or cache directories, and no
test reaches a speech service on the internet."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(
        {
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "VOICEBOT_TTS": "offline",
        }
    )
    os.environ.pop("VOICEBOT_DB", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


_ENV = ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "VOICEBOT_TTS", "VOICEBOT_DB")


@pytest.fixture
def repo_root() -> Path:
    """The checkout's root (flows/ and prompts/ live there)."""
    return Path(__file__).resolve().parent.parent
