"""docker/compose.yaml and the Janus image's configs, checked as data (no Docker needed), and the
Janus configs checked for real by starting Janus with them inside a test namespace."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.paths import ROOT
from voicebot.sim.janus_lab import Janus, Namespace
from voicebot.telephony.janus import AccountKind, JanusConfig

DOCKER = ROOT / "docker"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}")


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _jcfg_value(name: str, key: str) -> str:
    text = (DOCKER / "janus" / name).read_text()
    match = re.search(rf"^\s*{key}\s*=\s*\"?([^\"\n#]*)\"?", text, re.MULTILINE)
    assert match, f"{name}: no {key}"
    return match.group(1).strip()


def test_services_are_built_from_files_that_exist() -> None:
    services = _compose()["services"]
    assert {"janus", "voicebot", "postgres"} <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            context = (DOCKER / service["build"]["context"]).resolve()
            assert context == ROOT, name
            assert (context / service["build"]["dockerfile"]).is_file(), name


def test_nothing_listens_beyond_loopback() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: port {port} not on loopback"
        if "ports" not in service:
            assert service.get("network_mode") == "host" or "expose" not in service, name
    assert _jcfg_value("janus.transport.http.jcfg", "ip") == "127.0.0.1"


def test_every_variable_is_documented_and_the_gateway_settings_parse() -> None:
    text = (DOCKER / "compose.yaml").read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    for var in set(_VAR.findall(text)):
        assert var in header, f"{var} used but not explained at the top of compose.yaml"
    env = _compose()["services"]["voicebot"]["environment"]
    url = env["VOICEBOT_JANUS_URL"]
    assert url == f"http://127.0.0.1:{_jcfg_value('janus.transport.http.jcfg', 'port')}/janus"
    values = {
        key: _VAR.sub("", value) or None if key != "VOICEBOT_JANUS_ACCOUNT" else "sip:bot@192.0.2.1"
        for key, value in env.items()
    }
    values.update(VOICEBOT_JANUS_HOST="192.0.2.10", VOICEBOT_JANUS_TRUNK="sip:{number}@192.0.2.5")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in values.items():
            if value is not None:
                mp.setenv(key, value)
            else:
                mp.delenv(key, raising=False)
        config = JanusConfig.from_env()
    assert config.url == url and config.host == "192.0.2.10"
    assert config.kind is AccountKind.GUEST


def test_the_janus_image_copies_the_configs_and_runs_only_the_sip_plugin() -> None:
    dockerfile = (DOCKER / "Dockerfile.janus").read_text()
    for name in ("janus.jcfg", "janus.plugin.sip.jcfg", "janus.transport.http.jcfg"):
        assert f"docker/janus/{name}" in dockerfile
        assert (DOCKER / "janus" / name).is_file()
    disabled = _jcfg_value("janus.jcfg", "disable")
    assert "libjanus_sip.so" not in disabled and "libjanus_videoroom.so" in disabled


@pytest.mark.integration
def test_janus_starts_with_the_image_configs(namespace: Namespace, tmp_path: Path) -> None:
    janus = Janus(namespace, tmp_path, http_port=8088)
    conf = tmp_path / "conf"
    conf.mkdir()
    for src in (DOCKER / "janus").glob("*.jcfg"):
        text = src.read_text().replace('"/etc/janus"', f'"{conf}"')
        (conf / src.name).write_text(text)
    try:
        janus.start(configs=conf)
        with urllib.request.urlopen(f"{janus.url}/info", timeout=2) as resp:
            info = json.load(resp)
    finally:
        janus.stop()
    assert list(info["plugins"]) == ["janus.plugin.sip"]
    assert list(info["transports"]) == ["janus.transport.http"]
