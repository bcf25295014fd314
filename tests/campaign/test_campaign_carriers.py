"""Campaign transports beyond Janus come from entry points, so the engine never imports sim."""

from __future__ import annotations

import subprocess
import sys

import pytest

from voicebot.campaign import carriers
from voicebot.sim import campaign_transports


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
