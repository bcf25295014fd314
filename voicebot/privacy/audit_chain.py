"""The audit log's hash chain: how an entry is hashed, appended and verified.

Database triggers refuse UPDATE and DELETE on ``audit_events``, but someone with the database
file (or a superuser) can drop them. The chain makes such edits *evident*: every entry carries a
position ``seq`` (1, 2, 3, ...), the previous entry's hash and its own hash, a SHA-256 over the
previous hash and a canonical JSON of the entry's fields. Editing a field breaks the entry's
hash, deleting one leaves a gap and a broken link, reordering breaks the links, a forged
insertion breaks the link of the entry after it.

Appending reads the head (last ``seq`` and hash) and inserts in the same write transaction; that
transaction holds SQLite's write lock (``BEGIN IMMEDIATE``), and on PostgreSQL a
transaction-scoped advisory lock on the chain, so no two writers ever extend the same head, across
processes. A unique index on ``seq`` turns any bug in that into a failed insert, never a fork.

The chain is keyless on purpose: an auditor verifies it with the database alone. What the chain
cannot see is its own tail cut off, or the whole table emptied: every append also raises the
sealed high-water mark (:mod:`voicebot.privacy.audit_watermark`, a MAC under the master key),
which :func:`verify` checks when given the seal (``voicebot audit verify`` always does), and the
store's own counters (attempts reserved, dispositions) say when the chain holds fewer entries
than they imply. An attacker who rewrites the whole tail after an edit is caught by an *anchor*:
the head that ``voicebot audit verify`` prints, kept elsewhere (a ticket, a mail), and checked
later with ``--anchor``.

Retention purges old entries (:mod:`voicebot.privacy.retention`); before it does, it appends a
``audit_checkpoint`` entry naming the last purged ``seq`` and its hash, so the chain still verifies
from the first kept entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, insert, inspect, select, text
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from voicebot.privacy.audit_watermark import (
    SQL_FUNCTION,
    SQL_RAISE,
    WatermarkSeal,
    raise_mark,
    read_mark,
)
from voicebot.store.models import AUDIT_EVENTS, UTCDateTime

GENESIS = "0" * 64
"""The ``prev_hash`` of the first entry ever written."""

CHECKPOINT_KIND = "audit_checkpoint"
"""The kind of the entry retention appends before it purges old entries."""

HASHED_FIELDS = (
    "at", "kind", "number_masked", "policy_version", "campaign_id", "attempt_id", "allowed",
    "reasons", "detail",
)  # fmt: skip
"""The entry's fields covered by its hash (besides ``seq`` and ``prev_hash``)."""

_PG_CHAIN_LOCK = 0x61756469  # "audi": the advisory-lock key serializing chain appends
_HEAD = select(AUDIT_EVENTS.c.seq, AUDIT_EVENTS.c.hash).order_by(AUDIT_EVENTS.c.seq.desc()).limit(1)
_INSERT = insert(AUDIT_EVENTS)
_SQL_HEAD = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
_SQL_INSERT = (
    f"INSERT INTO audit_events ({', '.join(HASHED_FIELDS)}, seq, prev_hash, hash)"
    f" VALUES ({', '.join('?' * (len(HASHED_FIELDS) + 3))})"
)


def canonical(values: dict[str, Any]) -> str:
    """The entry's hashed fields as one canonical JSON text (sorted keys, no spaces, UTC).

    The same text comes out of the values as written and as read back from either database, so
    the hash can be recomputed by anyone holding the row.
    """
    doc = {name: values.get(name) for name in HASHED_FIELDS}
    at = doc["at"]
    if isinstance(at, dt.datetime):
        utc = at.astimezone(dt.UTC).replace(tzinfo=None)
        doc["at"] = utc.isoformat(timespec="microseconds") + "Z"
    doc["reasons"] = [str(r) for r in (doc["reasons"] or [])]
    doc["detail"] = doc["detail"] or {}
    doc["allowed"] = None if doc["allowed"] is None else bool(doc["allowed"])
    return _CANONICAL.encode(doc)


# One encoder for every entry: json.dumps with options builds a new one per call.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)


def entry_hash(seq: int, prev_hash: str, values: dict[str, Any]) -> str:
    """SHA-256 (hex) of one entry: its position, the previous hash, its canonical fields."""
    material = f"{seq}\n{prev_hash}\n{canonical(values)}".encode()
    return hashlib.sha256(material).hexdigest()


def link(head: tuple[int, str] | None, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with ``seq``, ``prev_hash`` and ``hash`` for appending after ``head``."""
    seq, prev = (head[0] + 1, head[1]) if head is not None else (1, GENESIS)
    return {**values, "seq": seq, "prev_hash": prev, "hash": entry_hash(seq, prev, values)}


def append_sync(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    """Append one entry (fields of :func:`voicebot.privacy.audit.audit_row`) to the chain.

    Must run inside the caller's write transaction; returns the row as inserted.
    """
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):  # sync pysqlite: skip SQLAlchemy's compile
        return append_sqlite(driver, values)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
    head = conn.execute(_HEAD).first()
    row = link((int(head[0]), str(head[1])) if head is not None else None, values)
    conn.execute(_INSERT, row)
    raise_mark(conn, row["seq"], row["hash"])
    return row


def append_sqlite(raw: sqlite3.Connection, values: dict[str, Any]) -> dict[str, Any]:
    """:func:`append_sync` on the sqlite3 connection itself (the gate's fast path)."""
    head = raw.execute(_SQL_HEAD).fetchone()
    row = link((int(head[0]), str(head[1])) if head is not None else None, values)
    raw.execute(_SQL_INSERT, _bind_sqlite(row))
    try:
        raw.execute(SQL_RAISE, (row["seq"], row["hash"]))
    except sqlite3.OperationalError as exc:  # a connection the store did not open: no seal
        if SQL_FUNCTION not in str(exc):
            raise
    return row


def _bind_sqlite(row: dict[str, Any]) -> list[Any]:
    params = [row[name] for name in HASHED_FIELDS]
    params[0] = _BIND_INSTANT(row["at"])
    params[6] = None if row["allowed"] is None else int(bool(row["allowed"]))
    params[7] = _BIND_JSON(list(row["reasons"]))
    params[8] = _BIND_JSON(row["detail"])
    return [*params, row["seq"], row["prev_hash"], row["hash"]]


def _processor(type_: Any) -> Callable[[Any], Any]:
    dialect = sqlite_dialect.dialect()
    bind = type_.dialect_impl(dialect).bind_processor(dialect)
    assert bind is not None
    return bind  # type: ignore[no-any-return]


_BIND_INSTANT = _processor(UTCDateTime())
_BIND_JSON = _processor(JSON())


@dataclass(frozen=True)
class Problem:
    """One place where the chain does not hold: the row's id, its position, what is wrong."""

    id: int | None
    seq: int | None
    position: int
    """1-based index of the row in ``seq`` order as found in the table."""
    message: str


@dataclass
class Verification:
    """What :func:`verify` found: rows checked, the head, where the chain starts, problems."""

    rows: int = 0
    head_seq: int | None = None
    head_hash: str | None = None
    starts_at: int | None = None
    """The first kept ``seq`` (1 unless retention purged older entries)."""
    anchored_at: int | None = None
    """The ``seq`` of the checkpoint the chain starts from, when it does not start at 1."""
    problems: list[Problem] = field(default_factory=list)
    mark_seq: int | None = None
    """The sealed high-water mark's ``seq``, when it was checked and holds."""
    warnings: list[str] = field(default_factory=list)
    """Doubts that are not proof: entries past the mark, fewer entries than counters imply."""
    _first_prev: str | None = field(default=None, repr=False)
    _first_id: int | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Whether every entry is intact, in place and linked."""
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary (``voicebot audit verify --json``)."""
        return {
            "ok": self.ok,
            "rows": self.rows,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "starts_at": self.starts_at,
            "anchored_at": self.anchored_at,
            "mark_seq": self.mark_seq,
            "problems": [p.__dict__ for p in self.problems],
            "warnings": list(self.warnings),
        }


_COLUMNS = ("id", *HASHED_FIELDS, "seq", "prev_hash", "hash")


def iter_rows(conn: Connection, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every audit row in chain order (``seq``, then ``id``), read in batches."""
    columns = [AUDIT_EVENTS.c[name] for name in _COLUMNS]
    query = select(*columns).order_by(AUDIT_EVENTS.c.seq, AUDIT_EVENTS.c.id)
    # On the statement, not the connection: Connection.execution_options changes it in place.
    result = conn.execute(query.execution_options(yield_per=batch))
    for row in result:
        yield dict(zip(_COLUMNS, row, strict=True))


def verify(
    conn: Connection,
    anchor: tuple[int, str] | None = None,
    seal: WatermarkSeal | None = None,
) -> Verification:
    """Check every entry's hash, the links, the positions and the order of ids.

    Args:
        conn: any connection on the store (read-only use).
        anchor: a ``(seq, hash)`` head recorded earlier; it must still be in the chain.
        seal: the store's watermark seal: then the sealed high-water mark must hold and the
            chain must reach it (tail cut off, table emptied), and the store's counters are
            compared with the chain.
    """
    report = Verification()
    checkpoints: dict[int, str] = {}
    prev: dict[str, Any] | None = None
    for position, row in enumerate(iter_rows(conn), start=1):
        report.rows = position
        _check_row(report, position, row, prev, checkpoints)
        if row["kind"] == CHECKPOINT_KIND and isinstance(row["detail"], dict):
            through, last = row["detail"].get("purged_through_seq"), row["detail"].get("last_hash")
            if isinstance(through, int) and isinstance(last, str):
                checkpoints[through] = last
        if anchor is not None and row["seq"] == anchor[0] and row["hash"] != anchor[1]:
            _problem(report, position, row, f"anchor mismatch: seq {anchor[0]} has another hash")
        prev = row
    if prev is not None:
        report.head_seq, report.head_hash = prev["seq"], prev["hash"]
    _check_start(report, checkpoints)
    if anchor is not None and (report.head_seq is None or report.head_seq < anchor[0]):
        report.problems.append(
            Problem(None, anchor[0], report.rows, f"anchor seq {anchor[0]} is past the head")
        )
    if seal is not None:
        from voicebot.privacy.audit_counts import check_counts

        _check_mark(conn, report, seal)
        check_counts(conn, report)
    return report


def _check_mark(conn: Connection, report: Verification, seal: WatermarkSeal) -> None:
    """The sealed high-water mark holds, and the chain reaches it with the same entry."""
    head = report.head_seq or 0
    mark = read_mark(conn) if inspect(conn).has_table("audit_watermark") else None
    if mark is None:
        _tail(report, "the sealed high-water mark is missing (its row or table was deleted)")
        return
    valid = seal.check(mark)
    if valid is None:
        key_id = seal.sealed_under(mark)
        _tail(report, f"the high-water mark is sealed under master key {key_id!r}, which the "
              "keyring lacks: it cannot be checked")  # fmt: skip
        return
    if not valid:
        _tail(report, f"the high-water mark's seal does not match (seq {mark.seq}): it was edited")
        return
    report.mark_seq = mark.seq
    if mark.seq > head:
        ends = f"the chain ends at seq {head}" if head else "the log is empty"
        _tail(
            report,
            f"entries seq {head + 1}..{mark.seq} missing at the end: the sealed high-water mark "
            f"is seq {mark.seq}, {ends}",
        )
        return
    if mark.seq > 0:
        found = conn.execute(
            select(AUDIT_EVENTS.c.hash).where(AUDIT_EVENTS.c.seq == mark.seq)
        ).scalar()
        if found != mark.hash:
            _tail(report, f"entry seq {mark.seq} is not the one the high-water mark sealed")
    if head > mark.seq:
        report.warnings.append(
            f"{head - mark.seq} newest entries (seq {mark.seq + 1}..{head}) are past the sealed "
            "high-water mark: written without the master key, so not covered by it"
        )


def _tail(report: Verification, message: str) -> None:
    report.problems.append(Problem(None, None, report.rows, message))


def _check_row(
    report: Verification,
    position: int,
    row: dict[str, Any],
    prev: dict[str, Any] | None,
    checkpoints: dict[int, str],
) -> None:
    seq, prev_hash = row["seq"], row["prev_hash"]
    if seq is None or prev_hash is None or row["hash"] is None:
        _problem(report, position, row, "entry is not chained (no seq/prev_hash/hash)")
        return
    if entry_hash(seq, prev_hash, row) != row["hash"]:
        _problem(report, position, row, "entry edited: its content does not match its hash")
    if prev is None:
        report.starts_at, report._first_prev, report._first_id = seq, prev_hash, row["id"]
        if seq == 1 and prev_hash != GENESIS:
            _problem(report, position, row, "first entry does not link to the genesis hash")
        return
    if prev["id"] is not None and row["id"] <= prev["id"]:
        _problem(report, position, row, f"reordered: id {row['id']} follows id {prev['id']}")
    if prev["seq"] is not None and seq == prev["seq"]:
        _problem(report, position, row, f"duplicate position seq {seq}")
    elif prev["seq"] is not None and seq != prev["seq"] + 1:
        gap = f"seq {prev['seq'] + 1}..{seq - 1}"
        _problem(report, position, row, f"entries missing before this one ({gap})")
    elif prev_hash != prev["hash"]:
        _problem(report, position, row, "broken link: prev_hash is not the previous entry's hash")


def _check_start(report: Verification, checkpoints: dict[int, str]) -> None:
    # The first kept row is either the genesis or the successor of a recorded checkpoint.
    if report.starts_at is None or report.starts_at == 1:
        return
    expected = checkpoints.get(report.starts_at - 1)
    if expected is None:
        report.problems.insert(
            0,
            Problem(
                report._first_id, report.starts_at, 1,
                f"entries 1..{report.starts_at - 1} missing and no checkpoint records their purge",
            ),
        )  # fmt: skip
    elif expected != report._first_prev:
        report.problems.insert(
            0,
            Problem(
                report._first_id, report.starts_at, 1,
                f"first kept entry does not link to the checkpoint of seq {report.starts_at - 1}",
            ),
        )  # fmt: skip
    else:
        report.anchored_at = report.starts_at - 1


def _problem(report: Verification, position: int, row: dict[str, Any], message: str) -> None:
    report.problems.append(Problem(row.get("id"), row.get("seq"), position, message))
