"""Retention: recordings and transcripts go after their time; the audit log stays long enough.

Defaults follow the compliance defaults: recordings and transcripts 365 days, the audit log 400
days (the law asks for at least 6 months, so less than 183 days is refused). ``voicebot purge``
runs it by hand and :func:`run_daily` is the server's daily task.

Vault files (recordings, transcripts) age by their file time. Audit rows are append-only and
hash-chained, so purging old ones must not make the chain look truncated: in one transaction the
purge appends an ``audit_checkpoint`` entry that names the last purged position and its hash,
lifts the append-only triggers, deletes the chain's *prefix* up to that position, and restores
the triggers. :func:`voicebot.privacy.audit_chain.verify` then starts from the checkpoint. Only a
prefix is purged: an old entry that follows a young one (a what-if dated in the past) waits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from voicebot.privacy.audit import audit_row
from voicebot.privacy.audit_chain import CHECKPOINT_KIND, append_sync
from voicebot.privacy.vault import Vault
from voicebot.store.engine import Store
from voicebot.store.models import AUDIT_EVENTS

log = logging.getLogger(__name__)

MIN_AUDIT_DAYS = 183
"""Six months: the audit log is never purged younger than this."""

PurgeHook = Callable[[Connection, dt.datetime], int]
"""Purges one more kind of stored recording/transcript data older than the cutoff (a table of
another module); returns how many rows it removed. Runs in the purge's write transaction."""

PURGE_HOOKS: dict[str, PurgeHook] = {}
"""Name -> hook; modules that keep transcripts in their own tables register here."""


@dataclass(frozen=True)
class RetentionPolicy:
    """How long things are kept, in days."""

    recordings_days: int = 365
    audit_days: int = 400

    def __post_init__(self) -> None:
        if self.recordings_days < 1:
            raise ValueError(f"recordings_days must be at least 1, got {self.recordings_days}")
        if self.audit_days < MIN_AUDIT_DAYS:
            raise ValueError(
                f"audit_days must be at least {MIN_AUDIT_DAYS} (6 months), got {self.audit_days}"
            )


@dataclass
class PurgeReport:
    """What one purge removed."""

    at: dt.datetime
    recordings_before: dt.datetime
    audit_before: dt.datetime
    vault_files: list[str] = field(default_factory=list)
    hook_rows: dict[str, int] = field(default_factory=dict)
    audit_rows: int = 0
    checkpoint_seq: int | None = None
    """Position of the checkpoint entry appended for the audit purge (None: nothing purged)."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary (``voicebot purge --json``)."""
        return {
            "at": self.at.isoformat(),
            "recordings_before": self.recordings_before.isoformat(),
            "audit_before": self.audit_before.isoformat(),
            "vault_files": self.vault_files,
            "hook_rows": self.hook_rows,
            "audit_rows": self.audit_rows,
            "checkpoint_seq": self.checkpoint_seq,
        }


async def purge(
    store: Store, vault: Vault | None, now: dt.datetime, policy: RetentionPolicy
) -> PurgeReport:
    """Delete recordings/transcripts older than the policy and the audit prefix older than its.

    Args:
        store: the open store.
        vault: the recordings/transcripts vault (None: no vault here, the database only).
        now: the purge's instant (aware).
        policy: the retention periods.
    """
    if now.tzinfo is None:
        raise ValueError("purge needs an aware datetime for now")
    report = PurgeReport(
        at=now,
        recordings_before=now - dt.timedelta(days=policy.recordings_days),
        audit_before=now - dt.timedelta(days=policy.audit_days),
    )
    if vault is not None:
        report.vault_files = await asyncio.to_thread(_purge_vault, vault, report.recordings_before)
    async with store.write() as conn:
        await conn.run_sync(_purge_rows, report)
    return report


def _purge_vault(vault: Vault, before: dt.datetime) -> list[str]:
    cutoff = before.timestamp()
    gone = []
    for name in vault.names():
        try:
            modified = vault.path_of(name).stat().st_mtime
        except FileNotFoundError:
            continue
        if modified < cutoff and vault.delete(name):
            gone.append(name)
    return gone


def _purge_rows(conn: Connection, report: PurgeReport) -> None:
    for name, hook in PURGE_HOOKS.items():
        report.hook_rows[name] = hook(conn, report.recordings_before)
    through = _purgeable_prefix(conn, report.audit_before)
    if through is not None:
        last_hash = conn.execute(
            select(AUDIT_EVENTS.c.hash).where(AUDIT_EVENTS.c.seq == through)
        ).scalar_one()
        count = conn.execute(select(func.count()).where(AUDIT_EVENTS.c.seq <= through)).scalar_one()
        checkpoint = append_sync(
            conn,
            _event(
                report.at,
                CHECKPOINT_KIND,
                {
                    "purged_through_seq": through,
                    "last_hash": last_hash,
                    "purged_rows": count,
                    "before": report.audit_before.isoformat(),
                },
            ),
        )
        with append_only_lifted(conn):
            conn.execute(delete(AUDIT_EVENTS).where(AUDIT_EVENTS.c.seq <= through))
        report.audit_rows, report.checkpoint_seq = int(count), int(checkpoint["seq"])
    if report.vault_files or any(report.hook_rows.values()):
        append_sync(
            conn,
            _event(
                report.at,
                "retention_purge",
                {"vault_files": len(report.vault_files), "rows": report.hook_rows},
            ),
        )


def _purgeable_prefix(conn: Connection, before: dt.datetime) -> int | None:
    """The last position such that it and every earlier entry are older than ``before``."""
    young = conn.execute(
        select(func.min(AUDIT_EVENTS.c.seq)).where(AUDIT_EVENTS.c.at >= before)
    ).scalar()
    if young is None:
        through = conn.execute(select(func.max(AUDIT_EVENTS.c.seq))).scalar()
    else:
        through = conn.execute(
            select(func.max(AUDIT_EVENTS.c.seq)).where(AUDIT_EVENTS.c.seq < young)
        ).scalar()
    return None if through is None else int(through)


def _event(at: dt.datetime, kind: str, detail: dict[str, Any]) -> dict[str, Any]:
    return audit_row(at=at, kind=kind, number_masked="", policy_version="-", detail=detail)


@contextmanager
def append_only_lifted(conn: Connection) -> Iterator[None]:
    """Drop the append-only triggers for the block and recreate them, in the same transaction.

    On error nothing is recreated: the caller's transaction rolls back, and the drop with it.
    """
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        for verb in ("update", "delete"):
            conn.exec_driver_sql(f"DROP TRIGGER audit_events_no_{verb}")
    else:
        conn.exec_driver_sql("DROP TRIGGER audit_events_append_only ON audit_events")
    yield
    if sqlite:
        for verb in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events"
                " BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
    else:
        conn.exec_driver_sql(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )


async def run_daily(
    store: Store,
    vault: Vault | None,
    policy: RetentionPolicy,
    *,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    interval: dt.timedelta = dt.timedelta(days=1),
) -> None:
    """The server's retention task: purge now, then every ``interval``, until cancelled.

    A failed purge is logged and retried at the next interval; it never stops the server.
    """
    while True:
        try:
            report = await purge(store, vault, clock(), policy)
            log.info(
                "retention purge: %d vault files, %d audit rows",
                len(report.vault_files),
                report.audit_rows,
            )
        except Exception:
            log.exception("retention purge failed; retrying at the next interval")
        await asyncio.sleep(interval.total_seconds())
