"""Test-wide isolation: no test writes into the user's data or cache directories, and no
test reaches a speech service on the internet."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from voicebot.store import Store, open_store


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
    os.environ.pop("VOICEBOT_ASR_ENGINE", None)  # each test chooses its recognizer
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


_ENV = (
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "VOICEBOT_TTS",
    "VOICEBOT_DB",
    "VOICEBOT_ASR_ENGINE",
)


POSTGRES = "postgresql://postgres@127.0.0.1:5432"
"""PostgreSQL of the multi-worker tests (trust auth); they fail, never skip, without it."""


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (not migrated), dropped afterwards."""
    name = f"voicebot_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{POSTGRES}/postgres", timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        admin = await asyncpg.connect(f"{POSTGRES}/postgres", timeout=10)
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[Store]:
    """A store on a fresh PostgreSQL database of its own, dropped afterwards."""
    store = await open_store(pg_url)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def repo_root() -> Path:
    """The checkout's root (flows/ and prompts/ live there)."""
    return Path(__file__).resolve().parent.parent
