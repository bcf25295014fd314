"""The audit log's sealed high-water mark: how far the chain reached, under a key it lacks.

The hash chain (:mod:`voicebot.privacy.audit_chain`) finds an edited or a missing entry
*between* others, but not a tail cut off, nor a table emptied: what is left still links up. So
every append also raises one row, ``audit_watermark``: the newest entry's ``seq`` and ``hash``,
and a MAC over both keyed from the master key. Whoever holds the database but not the key can
delete rows, drop triggers, even empty the table, but cannot lower the mark to match: ``voicebot
audit verify`` compares the chain's head with the mark by default.

What it does not stop: someone with the master key, or one who puts back an older copy of the
whole mark row they saved earlier. An anchor kept elsewhere (``verify --anchor``) covers those.

On SQLite the gate appends on a raw ``sqlite3`` connection; there the MAC comes from the SQL
function :data:`SQL_FUNCTION`, registered on every connection the store opens.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.engine import Connection, Engine

from voicebot.privacy.vault.keys import Keyring

SQL_FUNCTION = "voicebot_audit_seal"
"""``voicebot_audit_seal(seq, hash)``: the seal of a mark, on the store's SQLite connections."""

SQL_RAISE = (
    f"UPDATE audit_watermark SET seq = ?1, hash = ?2, seal = {SQL_FUNCTION}(?1, ?2) "
    "WHERE id = 1 AND seq < ?1"
)
"""Raise the mark on a raw SQLite connection (parameters: seq, hash)."""

_CONTEXT = b"voicebot audit watermark v1\x00"
_SEALS: weakref.WeakKeyDictionary[Engine, WatermarkSeal] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Mark:
    """The mark as stored: the newest entry's position and hash, and their seal."""

    seq: int
    hash: str
    seal: str | None


class WatermarkSeal:
    """Seals marks under the active master key; checks them under any key of the keyring."""

    def __init__(self, keyring: Keyring) -> None:
        self.active_id = keyring.active.key_id
        self._keys = {
            k.key_id: hmac.new(k.secret, _CONTEXT, hashlib.sha256).digest() for k in keyring.keys
        }

    def seal(self, seq: int, digest: str) -> str:
        """``<key id>.<hex MAC>`` over the position and hash."""
        return f"{self.active_id}.{self._mac(self._keys[self.active_id], seq, digest)}"

    def check(self, mark: Mark) -> bool | None:
        """Whether the mark's seal holds; None when its key is not in the keyring."""
        if not mark.seal:
            return False
        key_id, _, mac = mark.seal.partition(".")
        key = self._keys.get(key_id)
        if key is None:
            return None
        return hmac.compare_digest(mac, self._mac(key, mark.seq, mark.hash))

    def sealed_under(self, mark: Mark) -> str:
        """The key id a mark's seal names (no check)."""
        return (mark.seal or "").partition(".")[0]

    @staticmethod
    def _mac(key: bytes, seq: int, digest: str) -> str:
        return hmac.new(key, f"{int(seq)}\n{digest}".encode(), hashlib.sha256).hexdigest()


def watch(engine: Engine, seal: WatermarkSeal) -> None:
    """Make appends on ``engine`` raise the mark under ``seal`` (the store does this on open).

    Registers the seal for :func:`raise_mark` and, on SQLite, the SQL function for every raw
    ``sqlite3`` connection the engine opens.
    """
    _SEALS[engine] = seal

    def register(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.create_function(SQL_FUNCTION, 2, seal.seal, deterministic=True)

    event.listen(engine, "connect", register)


def seal_of(conn: Connection) -> WatermarkSeal | None:
    """The seal registered for the connection's engine (None: appends leave the mark behind,
    and ``verify`` says how many entries it does not cover)."""
    return _SEALS.get(conn.engine)


def raise_mark(conn: Connection, seq: int, digest: str) -> None:
    """Move the mark to entry ``seq`` (in the append's transaction)."""
    seal = seal_of(conn)
    if seal is None:
        return
    from voicebot.store.models import AUDIT_WATERMARK  # the store imports this module

    conn.execute(
        update(AUDIT_WATERMARK)
        .where(AUDIT_WATERMARK.c.id == 1, AUDIT_WATERMARK.c.seq < seq)
        .values(seq=seq, hash=digest, seal=seal.seal(seq, digest))
    )


def read_mark(conn: Connection) -> Mark | None:
    """The stored mark, or None when its row is gone.

    Raises:
        sqlalchemy.exc.DBAPIError: its table is gone.
    """
    from voicebot.store.models import AUDIT_WATERMARK

    row = conn.execute(
        select(AUDIT_WATERMARK.c.seq, AUDIT_WATERMARK.c.hash, AUDIT_WATERMARK.c.seal).where(
            AUDIT_WATERMARK.c.id == 1
        )
    ).first()
    if row is None:
        return None
    return Mark(int(row.seq), str(row.hash), None if row.seal is None else str(row.seal))
