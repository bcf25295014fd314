"""The gate's four statements, twice: SQLAlchemy Core (any database) and raw sqlite3 (hot path).

A decision reads the number's recent attempts and its blocks (do-not-call, freeze), then writes
a reservation and an audit row. Through SQLAlchemy each statement costs ~60 µs of Python on top
of SQLite's ~5 µs, which made the library, not the database, the limit of the gate on SQLite.
:class:`SqliteQueries` runs the same SQL on the driver connection; every value goes through the
*same* SQLAlchemy type processors (bind and result) as :class:`CoreQueries`, so both write and
read identical representations. The test suite runs the gate over both on SQLite.

Numbers are looked up by their keyed hashes (:meth:`NumberKeys.lookup`: one per key of the
keyring, so rows written before a key rotation still match); with one key that is a plain ``=``.
The same statement asks whether the store holds numbers under a master key this process lacks
(another engine started with a newer keyring): then the lookups could miss rows, and the gate
refuses to decide rather than let a call through.
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Date,
    Select,
    bindparam,
    exists,
    func,
    insert,
    or_,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from voicebot.privacy.audit_chain import append_sqlite, append_sync
from voicebot.store.models import ATTEMPTS, DNC_ENTRIES, FREEZES, NUMBER_KEYS, UTCDateTime

NOT_COUNTING = "released"
"""The attempt state that does not count toward caps (the dial never reached the network)."""

Recent = list[tuple[dt.date, dt.datetime]]
Digests = tuple[str, ...]
"""A number's lookup hashes, one per key of the keyring (active first)."""
Blocks = tuple[bool, dt.datetime | None, bool]
"""(do-not-call, end of the longest active freeze, numbers stored under an unknown key)."""


@dataclass(frozen=True)
class Lookup:
    """How the gate finds one number's rows: its digests under each key id (same order)."""

    digests: Digests
    key_ids: tuple[str, ...]


class GateQueries(Protocol):
    """What the gate reads and writes inside its transaction."""

    def recent(
        self,
        conn: Connection,
        digests: Digests,
        first: dt.date,
        today: dt.date,
        purpose: str | None,
    ) -> Recent:
        """(local day, reserved at) of counting attempts between ``first`` and ``today``."""

    def blocks(
        self, conn: Connection, lookup: Lookup, campaign_id: int | None, now: dt.datetime
    ) -> Blocks:
        """(applicable do-not-call entry exists, end of the longest active freeze, numbers are
        stored under a master key not in ``lookup.key_ids``)."""

    def reserve(self, conn: Connection, values: dict[str, Any]) -> int:
        """Insert a reservation (attempt columns); returns its id."""

    def audit(self, conn: Connection, values: dict[str, Any]) -> None:
        """Insert an audit event (audit columns)."""


class CoreQueries:
    """The statements as SQLAlchemy Core, built once (PostgreSQL, and SQLite in tests)."""

    def recent(
        self,
        conn: Connection,
        digests: Digests,
        first: dt.date,
        today: dt.date,
        purpose: str | None,
    ) -> Recent:
        params = {"digests": list(digests), "first": first, "today": today, "purpose": purpose}
        statement = _RECENT if purpose is None else _RECENT_FOR_PURPOSE
        return [(day, at) for day, at in conn.execute(statement, params)]

    def blocks(
        self, conn: Connection, lookup: Lookup, campaign_id: int | None, now: dt.datetime
    ) -> Blocks:
        params = {
            "digests": list(lookup.digests),
            "key_ids": list(lookup.key_ids),
            "campaign_id": campaign_id,
            "now": now,
        }
        statement = _BLOCKS if campaign_id is None else _BLOCKS_IN_CAMPAIGN
        row: Any = conn.execute(statement, params).one()
        return bool(row[0]), row[1], bool(row[2])

    def reserve(self, conn: Connection, values: dict[str, Any]) -> int:
        return int(conn.execute(_RESERVE, values).scalar_one())

    def audit(self, conn: Connection, values: dict[str, Any]) -> None:
        append_sync(conn, values)


_DIGESTS: BindParameter[list[str]] = bindparam("digests", expanding=True)
_RECENT = sa_select(ATTEMPTS.c.local_day, ATTEMPTS.c.reserved_at).where(
    ATTEMPTS.c.number_hash.in_(_DIGESTS),
    ATTEMPTS.c.state != NOT_COUNTING,
    ATTEMPTS.c.local_day >= bindparam("first"),
    ATTEMPTS.c.local_day <= bindparam("today"),
)
_RECENT_FOR_PURPOSE = _RECENT.where(ATTEMPTS.c.purpose == bindparam("purpose"))


def _blocks(dnc_scope: ColumnElement[bool]) -> Select[tuple[bool, dt.datetime | None, bool]]:
    return sa_select(
        exists().where(DNC_ENTRIES.c.number_hash.in_(_DIGESTS), dnc_scope),
        sa_select(func.max(FREEZES.c.until))
        .where(
            FREEZES.c.number_hash.in_(_DIGESTS),
            FREEZES.c.since <= bindparam("now"),
            FREEZES.c.until > bindparam("now"),
        )
        .scalar_subquery(),
        exists().where(NUMBER_KEYS.c.key_id.not_in(bindparam("key_ids", expanding=True))),
    )


_BLOCKS = _blocks(DNC_ENTRIES.c.campaign_id.is_(None))
_BLOCKS_IN_CAMPAIGN = _blocks(
    or_(DNC_ENTRIES.c.campaign_id.is_(None), DNC_ENTRIES.c.campaign_id == bindparam("campaign_id"))
)
_RESERVE = insert(ATTEMPTS).returning(ATTEMPTS.c.id)

_ATTEMPT_COLUMNS = (
    "number_hash", "number_sealed", "campaign_id", "purpose", "state", "reserved_at",
    "local_day", "policy_version",
)  # fmt: skip


class SqliteQueries:
    """The same statements on the sqlite3 connection under SQLAlchemy's transaction."""

    def __init__(self) -> None:
        dialect = sqlite_dialect.dialect()

        def bind(type_: Any) -> Callable[[Any], Any]:
            return type_.dialect_impl(dialect).bind_processor(dialect) or _same

        def result(type_: Any) -> Callable[[Any], Any]:
            return type_.dialect_impl(dialect).result_processor(dialect, None) or _same

        self._bind_instant = bind(UTCDateTime())
        self._bind_day = bind(Date())
        self._bind_json = bind(JSON())
        self._read_instant = result(UTCDateTime())
        self._read_day = result(Date())

    def recent(
        self,
        conn: Connection,
        digests: Digests,
        first: dt.date,
        today: dt.date,
        purpose: str | None,
    ) -> Recent:
        params = [*digests, NOT_COUNTING, self._bind_day(first), self._bind_day(today)]
        sql = _sql_recent(len(digests))
        if purpose is not None:
            sql += " AND purpose = ?"
            params.append(purpose)
        rows = _raw(conn).execute(sql, params).fetchall()
        return [(self._read_day(day), self._read_instant(at)) for day, at in rows]

    def blocks(
        self, conn: Connection, lookup: Lookup, campaign_id: int | None, now: dt.datetime
    ) -> Blocks:
        instant = self._bind_instant(now)
        digests = lookup.digests
        sql = _sql_blocks(len(digests), campaign_id is not None)
        scope = [] if campaign_id is None else [campaign_id]
        params = [*digests, *scope, *digests, instant, instant, *lookup.key_ids]
        dnc, until, foreign = _raw(conn).execute(sql, params).fetchone()
        return bool(dnc), self._read_instant(until), bool(foreign)

    def reserve(self, conn: Connection, values: dict[str, Any]) -> int:
        row = dict(values)
        row["reserved_at"] = self._bind_instant(row["reserved_at"])
        row["local_day"] = self._bind_day(row["local_day"])
        params = [row[c] for c in _ATTEMPT_COLUMNS]
        return int(_raw(conn).execute(_SQL_RESERVE, params).fetchone()[0])

    def audit(self, conn: Connection, values: dict[str, Any]) -> None:
        append_sqlite(_raw(conn), values)


def queries_for(conn_dialect: str) -> GateQueries:
    """The fastest implementation for a dialect name."""
    return SqliteQueries() if conn_dialect == "sqlite" else CoreQueries()


def _same(value: Any) -> Any:
    return value


def _raw(conn: Connection) -> sqlite3.Connection:
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver


def _match(count: int, column: str = "number_hash", negate: bool = False) -> str:
    """``column`` equal to one of ``count`` values (``= ?`` for one: the common case), or to
    none of them."""
    if count == 1:
        return f"{column} {'!=' if negate else '='} ?"
    return f"{column} {'NOT IN' if negate else 'IN'} ({', '.join('?' * count)})"


@functools.cache
def _sql_recent(count: int) -> str:
    return (
        "SELECT local_day, reserved_at FROM attempts"
        f" WHERE {_match(count)} AND state != ? AND local_day >= ? AND local_day <= ?"
    )


@functools.cache
def _sql_blocks(count: int, in_campaign: bool) -> str:
    scope = "(campaign_id IS NULL OR campaign_id = ?)" if in_campaign else "campaign_id IS NULL"
    return (
        f"SELECT EXISTS (SELECT 1 FROM dnc_entries WHERE {_match(count)} AND {scope}), "
        f"(SELECT max(until) FROM freezes WHERE {_match(count)} AND since <= ? AND until > ?), "
        f"EXISTS (SELECT 1 FROM number_keys WHERE {_match(count, 'key_id', negate=True)})"
    )


_SQL_RESERVE = (
    f"INSERT INTO attempts ({', '.join(_ATTEMPT_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(_ATTEMPT_COLUMNS))}) RETURNING id"
)
