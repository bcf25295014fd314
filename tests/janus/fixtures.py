"""pytest fixtures: one namespace and one Janus per test module, SIPp per test, all torn down.

Import them into a test module (``from janus.fixtures import gateway, namespace, sipp``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.system_parts import install_janus_lab
from voicebot.sim.janus_lab import Janus, Namespace, Sipp


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
