"""Test-wide isolation and the test tiers.

No test writes into the user's data or cache directories, and no test reaches a speech service
on the internet.

Tiers: a test that starts a real part carries the ``integration`` marker, plus ``browser``
(headless Chromium), ``janus`` (Janus, SIPp) or ``postgres`` (PostgreSQL on 127.0.0.1:5432)
for the part it needs. ``pytest -m "not integration"`` is the fast tier. The markers follow the
fixtures a test uses (:data:`FIXTURE_MARKERS`), and a test without ``integration`` that starts
a real part anyway fails at once, naming the part and the marker it lacks (:data:`GUARDS`).
"""

from __future__ import annotations

import contextlib
import multiprocessing.process
import os
import re
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import aiortc
import asyncpg
import piper
import pytest
import vosk
from playwright._impl.browser_type import BrowserType

from tests.paths import ROOT
from tests.system_parts import install_janus_lab
from tests.tiers import pytest_collection_modifyitems  # noqa: F401 (a hook: pytest finds it here)
from voicebot.sim.janus_lab import Janus, Namespace, Sipp
from voicebot.speech.asr import pocketsphinx as pocketsphinx_engine
from voicebot.speech.asr import whisper as whisper_engine
from voicebot.store import Store, open_store


class RealPartStarted(Exception):
    """A test without the ``integration`` marker started a real part."""


def _refuse(part: str, marker: str = "integration") -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        also = "" if marker == "integration" else f" and `{marker}`"
        raise RealPartStarted(
            f"this test starts {part}: mark it `integration`{also} (see tests/conftest.py), "
            "or give it the fakes of tests/fakes.py"
        )

    return refuse


_socket_connect = socket.socket.connect
_socket_connect_ex = socket.socket.connect_ex
_popen_init = subprocess.Popen.__init__
_POSTGRES_PORT = 5432


def _to_postgres(address: Any) -> bool:
    return isinstance(address, tuple) and len(address) >= 2 and address[1] == _POSTGRES_PORT


def _guarded_connect(sock: socket.socket, address: Any) -> None:
    if _to_postgres(address):
        _refuse("a PostgreSQL connection", "postgres")()
    _socket_connect(sock, address)


def _guarded_connect_ex(sock: socket.socket, address: Any) -> int:
    if _to_postgres(address):
        _refuse("a PostgreSQL connection", "postgres")()
    return _socket_connect_ex(sock, address)


_IMPORTS_VOICEBOT = re.compile(r"\b(?:import|from)\s+voicebot\b")


def _runs_voicebot(args: Any) -> bool:
    """Whether a command line starts the ``voicebot`` script, ``-m voicebot`` or code that
    imports it (the interpreter's own path may well contain the word: it is not looked at)."""
    argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
    words = [os.fsdecode(a) if isinstance(a, bytes | os.PathLike) else str(a) for a in argv]
    program = words[1:2] if words and Path(words[0]).name.startswith("python") else words[:1]
    if any(Path(word).name == "voicebot" for word in [*words[:1], *program]):
        return True  # the script, run itself or by an interpreter (not an argument named so)
    for before, word in zip(["", *words], words, strict=False):
        if before == "-m" and word.split(".")[0] == "voicebot":
            return True
        if before == "-c" and _IMPORTS_VOICEBOT.search(word):
            return True
    return False


def _guarded_popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
    if _runs_voicebot(args):
        _refuse("a voicebot process")()
    _popen_init(self, args, *rest, **kwargs)


GUARDS: list[tuple[object, str, Callable[..., Any]]] = [
    (aiortc.RTCPeerConnection, "__init__", _refuse("an aiortc peer")),
    (BrowserType, "launch", _refuse("a browser", "browser")),
    (BrowserType, "launch_persistent_context", _refuse("a browser", "browser")),
    (BrowserType, "connect", _refuse("a browser", "browser")),
    (BrowserType, "connect_over_cdp", _refuse("a browser", "browser")),
    (socket.socket, "connect", _guarded_connect),
    (socket.socket, "connect_ex", _guarded_connect_ex),
    (Namespace, "create", _refuse("a Janus lab namespace", "janus")),
    (Janus, "start", _refuse("Janus", "janus")),
    (Sipp, "start", _refuse("SIPp", "janus")),
    (subprocess.Popen, "__init__", _guarded_popen),
    (multiprocessing.process.BaseProcess, "start", _refuse("a worker process")),
    (piper.PiperVoice, "load", _refuse("a Piper voice")),
    (piper.PiperVoice, "synthesize", _refuse("a Piper voice")),
    (piper.PiperVoice, "synthesize_wav", _refuse("a Piper voice")),
    (pocketsphinx_engine._Decoders, "__init__", _refuse("a pocketsphinx decoder")),
    (pocketsphinx_engine._Decoders, "borrow", _refuse("a pocketsphinx decoder")),
    (whisper_engine._SharedModel, "__init__", _refuse("a Whisper model")),
    (whisper_engine._SharedModel, "decode", _refuse("a Whisper model")),
    (vosk, "Model", _refuse("a Vosk model")),
    (vosk, "KaldiRecognizer", _refuse("a Vosk model")),
]
"""What a test without ``integration`` may not start. Each entry swaps the part's common entry
point (creating an aiortc peer, launching Chromium, connecting to port 5432, running a speech
model, starting a process) for one that fails the test, during the test's setup, call and
teardown, so fixtures of any scope are covered. Speech is caught where a model runs: audio
rendered earlier in the same session and cached is not, which cannot happen in the fast tier
(no integration test runs before)."""


@contextlib.contextmanager
def _guard(item: pytest.Item) -> Iterator[None]:
    if item.get_closest_marker("integration") is not None:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, replacement in GUARDS:
            patch.setattr(owner, name, replacement)
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with _guard(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _guard(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    with _guard(item):
        return (yield)


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
    return ROOT


# ---- Janus and SIPp (voicebot.sim.janus_lab): one namespace and one Janus per test module,
# SIPp per test, all torn down. Tests using them are marked janus (FIXTURE_MARKERS).


@pytest.fixture(scope="module")
def namespace(request: pytest.FixtureRequest) -> Iterator[Namespace]:
    """A private network namespace, entered by the test thread for the whole module."""
    install_janus_lab()
    Namespace.reap_stale()
    module = request.module.__name__.rsplit(".", 1)[-1].replace("test_", "")[:6]
    ns = Namespace(f"vb-{module}-{os.getpid()}")
    ns.create()
    try:
        with ns.entered():
            yield ns
    finally:
        ns.delete()


@pytest.fixture(scope="module")
def gateway(namespace: Namespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Janus]:
    """A running Janus (HTTP API on 127.0.0.1:8088 inside the namespace)."""
    janus = Janus(namespace, tmp_path_factory.mktemp("janus"))
    try:
        janus.start()
        yield janus
    finally:
        janus.stop()


@pytest.fixture
def sipp(namespace: Namespace, tmp_path: Path) -> Iterator[Callable[..., Sipp]]:
    """Starts SIPp scenarios: ``sipp("uas_busy", 5071, "-rtp_echo")``; all stopped afterwards."""
    started: list[Sipp] = []

    def start(scenario: str, port: int, *extra: str, calls: int = 1) -> Sipp:
        far = Sipp(namespace, tmp_path, scenario, port, *extra)
        started.append(far)
        far.start(calls)
        return far

    yield start
    for far in started:
        far.stop()
