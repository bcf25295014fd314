"""Separate processes on one SQLite file never exceed a cap together."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.sim.gate_bench import bench_numbers, run_processes

pytestmark = pytest.mark.integration


def test_eight_processes_reserve_exactly_the_cap_per_number(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("purposes:\n  notification:\n    caps: {per_day: 3, per_week: 5}\n")
    numbers = bench_numbers(100)
    result = run_processes(
        str(tmp_path / "shared.db"),
        policy,
        processes=8,
        per_process=1000,
        numbers=numbers,
        concurrency=16,
    )
    print(f"\n8 processes: {result.rate:,.0f} decisions/s over {result.seconds:.1f} s")
    assert result.decisions == 8000
    assert result.per_number == {number: 3 for number in numbers}
    assert result.allowed == 300
    assert result.violations(3) == 0
