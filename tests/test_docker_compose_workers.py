"""docker/compose.yaml's workers, checked as data (images cannot be pulled here): they run
`voicebot worker` against the console's PostgreSQL, with the same settings and campaign files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from tests.paths import ROOT
from voicebot.cli import cli

DOCKER = ROOT / "docker"


def _services() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = data["services"]
    assert isinstance(services, dict)
    return services


def test_workers_share_the_consoles_database_settings_and_campaign_files() -> None:
    services = _services()
    console, worker = services["voicebot"], services["worker"]
    assert worker["command"][0] == "worker"
    assert worker["environment"] == console["environment"]
    assert worker["environment"]["VOICEBOT_DB"].startswith("postgresql+asyncpg://")
    assert worker["volumes"] == console["volumes"]
    assert any(v.endswith(":/campaigns:ro") for v in worker["volumes"])
    assert (DOCKER / "campaigns").is_dir()
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "ports" not in worker, "workers listen on nothing"


def test_the_workers_command_line_is_one_the_cli_accepts(tmp_path: Path) -> None:
    args = [
        a.replace("${VOICEBOT_WORKER_PROCESSES:-2}", "2") for a in _services()["worker"]["command"]
    ]
    # Its options parse; the store is then checked (a SQLite one is refused, said plainly).
    result = CliRunner().invoke(cli, [*args, "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1, result.output
    assert "workers need a PostgreSQL store" in result.output
