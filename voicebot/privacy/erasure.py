"""Erasure: every piece of personal data of one number, gone at once, with a report.

What happens to each place the number lives, in one write transaction under the number's lock:

- contacts rows, review-queue items (with their notes), freezes: deleted;
- agents' wrap-up notes on the number's calls: emptied (the dispositions stay, for the figures);
- attempts: anonymised (both number columns emptied: no hash, no sealed copy); outcomes and
  durations stay, unlinked, so campaign figures still add up;
- the dialer's queue rows of the number: deleted;
- do-not-call entries: deleted, and one keyed-hash entry (:mod:`voicebot.privacy.dnc_hash`) kept,
  so the gate still refuses the number; the hash cannot be reversed without the master key;
- vault files (recordings, transcripts) of the number's attempts (named under
  ``calls/<attempt id>/``, see :func:`call_prefix`) or whose name holds the number: deleted;
- tables of other modules: through :data:`ERASERS`.

Rows are found by the number's keyed hashes (:mod:`voicebot.privacy.number_keys`), under every
key of the store's keyring.

Audit rows are kept: they hold the masked number only (``138****8000``), which names no one on
its own, and they are the proof the erasure was done; editing them would break the hash chain.

Deleted rows can linger in SQLite's free pages and write-ahead log, so the transaction runs with
``secure_delete`` and the file is vacuumed and its log truncated right after. On PostgreSQL the
touched tables are vacuumed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.engine import Connection

from voicebot.privacy.audit import write_audit_sync
from voicebot.privacy.dnc_hash import current_keys, digest
from voicebot.privacy.masking import mask_number
from voicebot.privacy.number_keys import ERASED
from voicebot.privacy.numbers import to_e164
from voicebot.privacy.vault import Vault
from voicebot.store.compact import compact
from voicebot.store.dispositions import CALL_DISPOSITIONS
from voicebot.store.engine import Store, lock_number_sync
from voicebot.store.models import (
    ATTEMPTS,
    CONTACTS,
    DIALER_QUEUE,
    DNC_ENTRIES,
    DNC_ERASED,
    FREEZES,
    REVIEW_QUEUE,
)

ANONYMOUS = ERASED
"""What an anonymised attempt's number reads as (its number columns are empty)."""

Eraser = Callable[[Connection, str, list[int]], int]
"""Erases one more module's data of a number: ``(conn, e164, attempt_ids) -> rows touched``.
Runs in the erasure's write transaction, after the number's lock is taken."""

ERASERS: dict[str, Eraser] = {}
"""Name -> eraser; modules keeping personal data in their own tables register here."""


class NoErasureKey(RuntimeError):
    """No master key is loaded, so the do-not-call hash cannot be made: nothing was erased."""


def call_prefix(attempt_id: int) -> str:
    """The vault folder of one call's recording and transcript (``calls/<attempt id>/``)."""
    return f"calls/{attempt_id}/"


@dataclass
class ErasureReport:
    """What one erasure did, place by place (the number appears masked only)."""

    number_masked: str
    at: dt.datetime
    actor: str
    contacts: int = 0
    queue_entries: int = 0
    attempts_anonymised: int = 0
    review_items: int = 0
    freezes: int = 0
    dnc_entries: int = 0
    dnc_hash_added: bool = False
    notes: int = 0
    """Agents' wrap-up notes of the number's calls emptied (the dispositions stay)."""
    vault_files: list[str] = field(default_factory=list)
    """Deleted vault names, the number masked where a name spelled it."""
    other: dict[str, int] = field(default_factory=dict)
    compacted: bool = False
    """The database file was compacted so deleted rows cannot be read back from free space."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready copy (``voicebot erase --json``, the admin API)."""
        doc = dict(self.__dict__)
        doc["at"] = self.at.isoformat()
        return doc

    def lines(self) -> list[str]:
        """The report as a person reads it."""
        return [
            f"erasure of {self.number_masked} at {self.at.isoformat()} by {self.actor}",
            f"  contacts deleted:           {self.contacts}",
            f"  dialer queue rows deleted:  {self.queue_entries}",
            f"  attempts anonymised:        {self.attempts_anonymised}",
            f"  review items deleted:       {self.review_items}",
            f"  freezes deleted:            {self.freezes}",
            f"  agents' notes emptied:      {self.notes}",
            f"  do-not-call entries:        {self.dnc_entries} replaced by a keyed hash"
            + ("" if self.dnc_hash_added else " (hash already present)"),
            f"  recordings/transcripts:     {len(self.vault_files)} deleted",
            *(f"  {name}: {count}" for name, count in sorted(self.other.items())),
            f"  database compacted:         {'yes' if self.compacted else 'NO (see log)'}",
            "  audit entries kept (masked number only); the number is never called again",
        ]


async def erase(
    store: Store, vault: Vault | None, number: str, now: dt.datetime, actor: str
) -> ErasureReport:
    """Erase ``number`` everywhere, keep it refused by its hash, and say what was done.

    Raises:
        InvalidNumber: ``number`` is not an E.164 number.
        NoErasureKey: no master key is loaded (nothing is changed).
    """
    e164 = to_e164(number)
    keys = current_keys()
    if not keys:
        raise NoErasureKey(
            "erasure keeps a keyed hash of the number on the do-not-call list and needs the master "
            "key: set VOICEBOT_MASTER_KEY or create the key file (`voicebot keys init`)"
        )
    if not actor.strip():
        raise ValueError("an erasure needs a non-empty actor")
    report = ErasureReport(number_masked=mask_number(e164), at=now, actor=actor)
    key_id, key = keys[0]
    digests = store.numbers.lookup(e164)
    async with store.write() as conn:
        attempt_ids = await conn.run_sync(
            _erase_rows, e164, digests, report, key_id, digest(key, e164)
        )
    if vault is not None:
        report.vault_files = await asyncio.to_thread(_erase_files, vault, e164, attempt_ids)
    async with store.write() as conn:
        await conn.run_sync(_audit, report)
    report.compacted = await compact(store.engine)
    return report


def _erase_rows(
    conn: Connection,
    e164: str,
    digests: tuple[str, ...],
    report: ErasureReport,
    key_id: str,
    hashed: str,
) -> list[int]:
    lock_number_sync(conn, e164)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
    ids = [
        int(i) for i in conn.execute(select(ATTEMPTS.c.id).where(_is(ATTEMPTS, digests))).scalars()
    ]
    for name, eraser in ERASERS.items():
        report.other[name] = eraser(conn, e164, ids)
    report.notes = _count(
        conn.execute(
            update(CALL_DISPOSITIONS)
            .where(CALL_DISPOSITIONS.c.attempt_id.in_(ids), CALL_DISPOSITIONS.c.note != "")
            .values(note="")
        )
    )
    report.review_items = _deleted(conn, REVIEW_QUEUE, digests)
    report.contacts = _deleted(conn, CONTACTS, digests)
    report.queue_entries = _deleted(conn, DIALER_QUEUE, digests)
    report.freezes = _deleted(conn, FREEZES, digests)
    report.dnc_entries = _deleted(conn, DNC_ENTRIES, digests)
    report.attempts_anonymised = _count(
        conn.execute(
            update(ATTEMPTS)
            .where(_is(ATTEMPTS, digests))
            .values(number_hash=None, number_sealed=None)
        )
    )
    known = conn.execute(select(exists().where(DNC_ERASED.c.digest == hashed))).scalar_one()
    if not known:
        conn.execute(insert(DNC_ERASED).values(digest=hashed, key_id=key_id, created_at=report.at))
        report.dnc_hash_added = True
    return ids


def _is(table: Any, digests: tuple[str, ...]) -> Any:
    return table.c.number_hash.in_(digests)


def _deleted(conn: Connection, table: Any, digests: tuple[str, ...]) -> int:
    return _count(conn.execute(delete(table).where(_is(table, digests))))


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def _erase_files(vault: Vault, e164: str, attempt_ids: list[int]) -> list[str]:
    prefixes = tuple(call_prefix(i) for i in attempt_ids)
    national = unmasked_forms(e164)
    gone = []
    for name in vault.names():
        mine = name.startswith(prefixes) or any(form in name for form in national)
        if mine and vault.delete(name):
            gone.append(_masked_name(name, national, mask_number(e164)))
    return gone


def _masked_name(name: str, forms: tuple[str, ...], masked: str) -> str:
    # The report must not spell the number a file was named after.
    for form in sorted(forms, key=len, reverse=True):
        name = name.replace(form, masked)
    return name


def unmasked_forms(e164: str) -> tuple[str, ...]:
    """The number's unmasked spellings worth searching names for: E.164 digits and national."""
    national = phonenumbers.national_significant_number(phonenumbers.parse(e164, None))
    return (e164.lstrip("+"), national)


def _audit(conn: Connection, report: ErasureReport) -> None:
    write_audit_sync(
        conn,
        at=report.at,
        kind="erasure",
        number_masked=report.number_masked,
        policy_version="-",
        detail={
            "actor": report.actor,
            "contacts": report.contacts,
            "queue_entries": report.queue_entries,
            "attempts_anonymised": report.attempts_anonymised,
            "review_items": report.review_items,
            "freezes": report.freezes,
            "notes": report.notes,
            "dnc_entries": report.dnc_entries,
            "vault_files": len(report.vault_files),
            "other": report.other,
        },
    )
