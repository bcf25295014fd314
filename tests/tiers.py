"""How tests are sorted into tiers: the markers of the real parts they use, and the xdist
group that keeps the integration tests on one worker. Kept apart from ``conftest.py`` (which
imports every part to guard it) so a small pytest run can use the same marking.
"""

from __future__ import annotations

import pytest

PARTS = ("browser", "janus", "postgres")
"""Markers for the real parts a test needs; each implies ``integration``."""

FIXTURE_MARKERS = {
    "pg_url": "postgres",
    "pg_store": "postgres",
    "namespace": "janus",
    "gateway": "janus",
    "sipp": "janus",
}
"""Fixtures that start a real part, and the marker a test using one gets."""


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by these markers, and xdist groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests from the fixtures they use; a part's marker implies ``integration``.

    The integration tests form one xdist group: they run one after another on one worker, as
    they would alone (calls paced in real time, one Janus lab, shared CPU-heavy speech models).
    They come last, and the group is handed out in collection order (``--no-loadscope-reorder``;
    by default xdist hands out the largest group first), so the fast tier runs on every worker
    first and the calls do not share the CPU with it: a zh-CN call heard nothing but noise when
    they did.
    """
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            marker = FIXTURE_MARKERS.get(fixture)
            if marker is not None and item.get_closest_marker(marker) is None:
                item.add_marker(marker)
        if item.get_closest_marker("integration") is None and any(
            item.get_closest_marker(part) for part in PARTS
        ):
            item.add_marker("integration")
        if item.get_closest_marker("integration") is not None:
            item.add_marker(pytest.mark.xdist_group("integration"))
    items.sort(key=lambda item: item.get_closest_marker("integration") is not None)  # stable


__all__ = ["FIXTURE_MARKERS", "PARTS", "pytest_collection_modifyitems"]
