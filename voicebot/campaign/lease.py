"""One running process per campaign: a lease in the store, renewed while the campaign runs.

Until campaigns run on shared workers, two dialers on one campaign would each close the other's
live calls as "interrupted" when they start (crash recovery cannot tell a crash from a neighbour).
So a process takes the campaign's lease before it recovers or dials anything:

- no lease, or our own: taken (renewed);
- held by another process: refused with :class:`CampaignBusy`, which names the holder (host, pid,
  since when) — unless the holder is gone: its lease expired (it stopped renewing), or it is on
  this host and its pid is no longer alive (kill -9, a crash). Then it is taken over;
- while held, it is renewed every third of its time to live; a renewal that finds the lease
  taken (or cannot reach the store before the lease expires) calls ``on_lost`` (the dialer
  interrupts its calls) so two processes never dial the campaign at once for long;
- on a clean end it is deleted.

Taking over is a compare-and-swap on the holder's random token, so two processes racing for a
dead holder's lease cannot both win. Expiry compares wall-clock times written by the holders:
hosts sharing a PostgreSQL store need synchronized clocks (NTP), as their logs already do.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from voicebot.store.engine import Store
from voicebot.store.leases import CAMPAIGN_LEASES

log = logging.getLogger(__name__)
_l = CAMPAIGN_LEASES

LEASE_SECONDS = 30.0
"""How long a lease lasts without renewal (a holder that vanished off-host is waited for)."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a campaign's lease."""

    host: str
    pid: int
    since: dt.datetime
    renewed_at: dt.datetime
    expires_at: dt.datetime

    def describe(self) -> str:
        """For people: ``pid 4242 on host-a since 2026-12-06 02:41:07 UTC``."""
        return f"pid {self.pid} on {self.host} since {self.since:%Y-%m-%d %H:%M:%S} UTC"

    def gone(self, now: dt.datetime, host: str | None = None) -> bool:
        """Whether the holder no longer runs: its lease expired, or it is a dead process of
        this host (``host``: this host's name)."""
        here = host if host is not None else socket.gethostname()
        return self.expires_at <= now or (self.host == here and not pid_alive(self.pid))


class CampaignBusy(RuntimeError):
    """Another live process runs the campaign."""

    def __init__(self, name: str, holder: Holder) -> None:
        super().__init__(
            f"campaign {name!r} is already being run by {holder.describe()} (last renewed "
            f"{holder.renewed_at:%H:%M:%S} UTC): stop that process first; if it is gone without "
            f"a trace on another host, its lease expires at {holder.expires_at:%H:%M:%S} UTC"
        )
        self.holder = holder


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (a zombie does not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        # The state follows the parenthesised command name, which may itself hold spaces.
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


class CampaignLease:
    """This process's claim on one campaign.

    Args:
        store: the open store.
        campaign_id: the campaign's row.
        name: the campaign's name (for messages).
        seconds: time to live; renewed every third of it.
        on_lost: called once if the lease is lost while held (taken over, or not renewable).
    """

    def __init__(
        self,
        store: Store,
        campaign_id: int,
        name: str,
        *,
        seconds: float = LEASE_SECONDS,
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.campaign_id = campaign_id
        self.name = name
        self.seconds = seconds
        self.on_lost = on_lost
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.token = secrets.token_hex(16)
        self.expires_at: dt.datetime | None = None
        self.lost = False

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[Holder | None]:
        """Hold the lease (renewed in the background) for the block; released afterwards.

        Yields:
            The previous holder when its lease was taken over (it was gone), else None.

        Raises:
            CampaignBusy: another live process holds it.
        """
        previous = await self.acquire()
        renewing = asyncio.create_task(self._renew_forever(), name=f"lease-{self.name}")
        try:
            yield previous
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await asyncio.shield(self.release())

    async def acquire(self) -> Holder | None:
        """Take the lease; returns the holder taken over from (gone), if any.

        Raises:
            CampaignBusy: another live process holds it.
        """
        now = _now()
        expires = now + dt.timedelta(seconds=self.seconds)
        previous = await self.store.serialized(lambda conn: self._acquire(conn, now, expires))
        self.expires_at = expires
        if previous is not None:
            log.warning(
                "took over campaign %r from %s (gone: lease expired or process dead)",
                self.name,
                previous.describe(),
            )
        return previous

    def _acquire(self, conn: Connection, now: dt.datetime, expires: dt.datetime) -> Holder | None:
        mine = {"token": self.token, "host": self.host, "pid": self.pid}
        times = {"acquired_at": now, "renewed_at": now, "expires_at": expires}
        row = conn.execute(select(_l).where(_l.c.campaign_id == self.campaign_id)).first()
        if row is None:
            dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            taken = conn.execute(
                dialect_insert(_l)
                .values(campaign_id=self.campaign_id, **mine, **times)
                .on_conflict_do_nothing(index_elements=["campaign_id"])
            )
            if taken.rowcount == 1:
                return None
            row = conn.execute(select(_l).where(_l.c.campaign_id == self.campaign_id)).one()
        holder = _holder(row)
        if row.token == self.token:
            self._renew(conn, now, expires)
            return None
        if not holder.gone(now, self.host):
            raise CampaignBusy(self.name, holder)
        swapped = conn.execute(
            update(_l)
            .where(_l.c.campaign_id == self.campaign_id, _l.c.token == row.token)
            .values(**mine, **times)
        )
        if swapped.rowcount != 1:  # another process took it over first
            row = conn.execute(select(_l).where(_l.c.campaign_id == self.campaign_id)).one()
            raise CampaignBusy(
                self.name,
                Holder(row.host, row.pid, row.acquired_at, row.renewed_at, row.expires_at),
            )
        return holder

    async def renew(self) -> bool:
        """Extend the lease; False when it is no longer ours (taken over after expiring)."""
        now = _now()
        expires = now + dt.timedelta(seconds=self.seconds)
        ours = await self.store.serialized(lambda conn: self._renew(conn, now, expires))
        if ours:
            self.expires_at = expires
        return ours

    def _renew(self, conn: Connection, now: dt.datetime, expires: dt.datetime) -> bool:
        renewed = conn.execute(
            update(_l)
            .where(_l.c.campaign_id == self.campaign_id, _l.c.token == self.token)
            .values(renewed_at=now, expires_at=expires)
        )
        return renewed.rowcount == 1

    async def release(self) -> None:
        """Give the lease up (only if it is still ours); errors are logged, it then expires."""

        def unit(conn: Connection) -> None:
            conn.execute(
                delete(_l).where(_l.c.campaign_id == self.campaign_id, _l.c.token == self.token)
            )

        try:
            await self.store.serialized(unit)
        except Exception:
            log.exception("could not release the lease of campaign %r (it expires)", self.name)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.seconds / 3)
            try:
                if await self.renew():
                    continue
                reason = "another process took it over"
            except Exception as exc:
                if self.expires_at is not None and _now() < self.expires_at:
                    log.warning("could not renew the lease of %r: %s", self.name, exc)
                    continue
                reason = f"it could not be renewed before it expired ({exc})"
            log.error("lost the lease of campaign %r: %s; stopping its calls", self.name, reason)
            self.lost = True
            self.on_lost()
            return


async def current_holder(store: Store, campaign_id: int) -> Holder | None:
    """Who holds the campaign's lease (maybe a process that is gone), or None."""
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(_l).where(_l.c.campaign_id == campaign_id))).first()
    return _holder(row) if row is not None else None


def _holder(row: Any) -> Holder:
    return Holder(row.host, row.pid, row.acquired_at, row.renewed_at, row.expires_at)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
