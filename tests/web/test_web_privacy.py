"""Admins erase a number through the API: its data goes, a hashed do-not-call entry stays."""

from __future__ import annotations

from pathlib import Path

from tests.paths import FLOWS
from tests.web_support import running_app
from voicebot.compliance import dnc
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.purpose import Purpose

NUMBER = "+8613900139000"


async def test_admin_erases_a_number_and_it_stays_refused(tmp_path: Path) -> None:
    async with running_app(tmp_path, FLOWS) as fx:
        policy = load_policy()
        await dnc.add(fx.store, policy, NUMBER, None, "opt-out", fx.clock())
        async with fx.client() as http:
            status, _ = await fx.login(http, "admin1")
            assert status == 200
            token = await fx.csrf(http)
            async with http.post(
                fx.url("/api/admin/erase"), json={"number": NUMBER}, headers={"X-CSRF-Token": token}
            ) as r:
                assert r.status == 200, await r.text()
                report = await r.json()
                assert NUMBER not in str(report) and "13900139000" not in str(report)
            async with http.post(
                fx.url("/api/admin/erase"),
                json={"number": "12345"},
                headers={"X-CSRF-Token": token},
            ) as r:
                assert r.status == 400 and (await r.json())["error"] == "invalid_number"
        assert await dnc.entries(fx.store, NUMBER) == []  # the readable entry is gone...
        decision = await Gate(fx.store, policy).check(NUMBER, Purpose.MARKETING, fx.clock())
        assert "dnc" in [r.value for r in decision.reasons]  # ...its hash still refuses it
