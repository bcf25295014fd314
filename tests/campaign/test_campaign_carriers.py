"""Campaign transports beyond Janus come from entry points, so the engine never imports sim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT
from voicebot.campaign import carriers
from voicebot.campaign.config import load_campaign
from voicebot.sim import campaign_transports
from voicebot.yamlsource import SourceErrors

FLOW = (ROOT / "flows" / "satisfaction_survey.yaml").as_posix()


def test_loopback_and_simulated_are_found_as_entry_points() -> None:
    assert carriers.transport_factory("loopback") is campaign_transports.loopback_personas
    assert carriers.runner_factory("simulated") is campaign_transports.scripted_calls
    assert carriers.transport_factory("simulated") is None  # a runner, not a transport
    assert carriers.transport_factory("pstn-direct") is None
    assert carriers.registered() == ["loopback", "simulated"]


@pytest.mark.integration
def test_running_a_campaign_imports_no_simulation_until_one_is_named() -> None:
    code = (
        "import sys\n"
        "import voicebot.campaign.launch, voicebot.campaign.worker, voicebot.cli\n"
        "from voicebot.campaign import carriers\n"
        "assert carriers.transport_factory('nope') is None\n"
        "sim = sorted(m for m in sys.modules if m.startswith('voicebot.sim'))\n"
        "assert not sim, sim\n"
        "carriers.runner_factory('simulated')\n"
        "assert 'voicebot.sim.campaign_transports' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _campaign_file(tmp_path: Path, transport: str) -> Path:
    (tmp_path / "contacts.csv").write_text("number\n+12025550101\n", encoding="utf-8")
    path = tmp_path / "camp.yaml"
    path.write_text(
        f"name: c\nflow: {FLOW}\ncontacts: contacts.csv\n"
        f'caller_id: "+12025550100"\ntransport: {transport}\n',
        encoding="utf-8",
    )
    return path


def test_a_transport_nobody_installed_is_refused_at_its_line_with_the_installed_ones(
    tmp_path: Path,
) -> None:
    with pytest.raises(SourceErrors) as caught:
        load_campaign(_campaign_file(tmp_path, "pstn-direct"))
    message = str(caught.value)
    assert "camp.yaml:5" in message and "transport" in message
    assert "unknown transport 'pstn-direct'; installed: janus, loopback, simulated" in message


def test_a_transport_another_package_registers_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(carriers, "registered", lambda: ["loopback", "pstn-direct", "simulated"])
    assert load_campaign(_campaign_file(tmp_path, "pstn-direct")).transport == "pstn-direct"
    assert not carriers.runs_no_flow("pstn-direct") and carriers.runs_no_flow("simulated")
