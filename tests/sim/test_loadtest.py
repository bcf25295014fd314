"""The load measurement runs real calls and reports figures that make sense."""

from __future__ import annotations

import pytest

from voicebot.sim.loopback_load import measure_loopback
from voicebot.telephony.rtc import Codec


@pytest.mark.integration
async def test_measure_two_short_calls() -> None:
    figures = await measure_loopback(calls=2, seconds=0.5, codec=Codec.PCMU)
    assert figures.answered == 2
    assert figures.cpu_percent_per_pair > 0
    assert figures.rss_mb_before > 0
    assert 0 < figures.frames_per_second <= 60  # 50 a second at most, plus a little catch-up


async def test_measure_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="expected at least 1 call"):
        await measure_loopback(calls=0)
