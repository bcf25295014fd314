"""The store's own counters against the audit log: fewer entries than they imply is a warning.

Every reservation the gate grants writes an attempt row and a ``reserve`` entry in one
transaction; every agent's disposition a ``call_dispositions`` row and a ``disposition`` entry.
Rows kept outside the log therefore bound how many such entries the chain must hold (counted
from the first kept entry, since retention purges old entries but keeps a checkpoint). A shortfall
is not proof on its own (rows can be inserted by hand), so :func:`verify` reports it as a
warning beside the sealed high-water mark, which is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Column, Table, func, inspect, select
from sqlalchemy.engine import Connection

from voicebot.store.dispositions import CALL_DISPOSITIONS
from voicebot.store.models import ATTEMPTS, AUDIT_EVENTS

if TYPE_CHECKING:
    from voicebot.privacy.audit_chain import Verification

COUNTERS: tuple[tuple[str, Table, Column[object], str], ...] = (
    ("attempts", ATTEMPTS, ATTEMPTS.c.reserved_at, "reserve"),
    ("agents' dispositions", CALL_DISPOSITIONS, CALL_DISPOSITIONS.c.created_at, "disposition"),
)
"""What the store counts, where, since when, and the entry kind each row goes with."""


def check_counts(conn: Connection, report: Verification) -> None:
    """Add a warning per counter whose rows outnumber their entries in the kept chain."""
    tables = set(inspect(conn).get_table_names())
    since = None
    if report.anchored_at is not None:  # retention purged older entries: count from the rest
        since = conn.execute(select(func.min(AUDIT_EVENTS.c.at))).scalar()
    for what, table, instant, kind in COUNTERS:
        if table.name not in tables:
            continue
        rows = select(func.count()).select_from(table)
        if since is not None:
            rows = rows.where(instant >= since)
        stored = int(conn.execute(rows).scalar_one())
        entries = int(
            conn.execute(select(func.count()).where(AUDIT_EVENTS.c.kind == kind)).scalar_one()
        )
        if stored > entries:
            report.warnings.append(
                f"the store holds {stored} {what} but the audit log only {entries} "
                f"'{kind}' entries: entries are missing"
            )
