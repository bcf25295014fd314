"""Login lockouts hold across console processes: two apps on one store (SQLite file or
PostgreSQL) count the same failures, so a guesser who alternates between servers is locked
out after as many tries as against one."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.web_support import running_app
from voicebot.store import open_store
from voicebot.web.ratelimit import LimitRule, LoginLimiter

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


async def _failures_counted_across_both(url: str, tmp_path: Path, repo_root: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    key = Fernet.generate_key()
    async with (
        running_app(tmp_path / "a", repo_root / "flows", db_url=url, session_key=key) as first,
        running_app(
            tmp_path / "b", repo_root / "flows", db_url=url, session_key=key, seeded_by=first
        ) as second,
        first.client() as one,
        second.client() as other,
    ):
        # Five wrong passwords (the account's limit), spread 3 + 2 over the two servers.
        for app, http in [(first, one), (second, other)] * 2 + [(first, one)]:
            status, _ = await app.login(http, "agent1", password="wrong password!")
            assert status == 401
        for app, http in ((first, one), (second, other)):
            status, body = await app.login(http, "agent1")  # the right password, but locked
            assert (status, body["error"]) == (429, "locked")
        second.clock.advance(61)  # the apps share one clock: the first lockout lasts a minute
        status, _ = await second.login(other, "agent1")
        assert status == 200
        status, _ = await first.login(one, "agent1", password="wrong password!")
        assert status == 401  # the success cleared the account's count on both: not locked


async def test_failures_on_two_console_processes_add_up_to_one_lockout(
    tmp_path: Path, repo_root: Path
) -> None:
    await _failures_counted_across_both(str(tmp_path / "shared.db"), tmp_path, repo_root)


@pytest.mark.integration
async def test_failures_on_two_console_processes_add_up_over_postgresql(
    pg_url: str, tmp_path: Path, repo_root: Path
) -> None:
    await _failures_counted_across_both(pg_url, tmp_path, repo_root)


async def _racing_failures(url: str) -> None:
    """Ten failures at once, five through each of two stores: all counted, one lockout."""
    rule = LimitRule(10, dt.timedelta(minutes=10), dt.timedelta(minutes=1))
    limiter = LoginLimiter(rule, LimitRule(100, dt.timedelta(minutes=10), dt.timedelta(hours=1)))
    first = await open_store(url)
    second = await open_store(url)
    try:
        started = await asyncio.gather(
            *(limiter.failed(s, "ann", "127.0.0.1", T0) for s in [first, second] * 5)
        )
        assert sorted(lock.scope for locks in started for lock in locks) == ["account"]
        assert await limiter.check(second, "ann", "127.0.0.2", T0) is not None
    finally:
        await first.close()
        await second.close()


async def test_failures_racing_on_two_stores_are_all_counted(tmp_path: Path) -> None:
    await _racing_failures(str(tmp_path / "race.db"))


@pytest.mark.integration
async def test_failures_racing_on_two_stores_are_all_counted_over_postgresql(pg_url: str) -> None:
    await _racing_failures(pg_url)
