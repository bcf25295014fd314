"""The store's identity, and the vault that belongs to it.

Every store gets a random id when it is created (migration ``0700_vault_owner``). Its vault of
recordings and transcripts is derived from where the store lives, so two stores never share one
by default: beside a SQLite file (``calls.db`` -> ``calls.db.vault/``), under the user data
directory for PostgreSQL (``vaults/pg-<host>-<port>-<database>/``), and, for the default store,
the user data directory's ``vault/`` (where it always was). ``--vault``/``$VOICEBOT_VAULT``
override the place; either way the vault names its store (:mod:`voicebot.privacy.vault.owner`)
and refuses any other.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from pathlib import Path

import platformdirs
from sqlalchemy import Integer, String, Table, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.privacy.vault.keys import Keyring
from voicebot.privacy.vault.owner import claim
from voicebot.privacy.vault.vault import ENV_VAULT, AuditHook, Vault, default_vault_dir
from voicebot.store.location import default_db_path, normalize_url
from voicebot.store.models import Base, UTCDateTime

VAULT_SUFFIX = ".vault"
"""A SQLite store's vault is its file's name plus this, in the same directory."""


class StoreIdentity(Base):
    """The one row naming this store (its vault carries the same id)."""

    __tablename__ = "store_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def _table() -> Table:
    table = StoreIdentity.__table__
    assert isinstance(table, Table)
    return table


STORE_IDENTITY = _table()


def new_store_id() -> str:
    """A fresh random id (hex)."""
    return uuid.uuid4().hex


def read_store_id(conn: Connection) -> str | None:
    """This store's id, or None for a store migrated before ids existed (not possible after
    ``0700_vault_owner``, which gives every store one)."""
    value = conn.execute(select(STORE_IDENTITY.c.store_id).limit(1)).scalar()
    return None if value is None else str(value)


def store_vault_root(url: str) -> Path:
    """Where the vault of the store at ``url`` (a URL or a SQLite path) lives by default."""
    configured = os.environ.get(ENV_VAULT)
    if configured:
        return Path(configured)
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return _data_dir() / "vaults" / "memory"
        path = Path(database)
        if path == default_db_path().resolve():
            return default_vault_dir()
        return path.with_name(path.name + VAULT_SUFFIX)
    name = f"pg-{parsed.host or 'local'}-{parsed.port or 5432}-{parsed.database or 'postgres'}"
    return _data_dir() / "vaults" / re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _data_dir() -> Path:
    return platformdirs.user_data_path("voicebot")


def vault_of(
    url: str, store_id: str | None, keyring: Keyring, audit: AuditHook, root: Path | None = None
) -> Vault:
    """The vault of one store: ``root`` (else its derived place), claimed by or checked
    against the store's id.

    Raises:
        VaultOwnerError: the vault belongs to another store.
        ValueError: the store has no id (opened without migrating).
    """
    if store_id is None:
        raise ValueError("this store has no id yet: open it with migrations before its vault")
    place = root if root is not None else store_vault_root(url)
    claim(place, store_id)
    return Vault(place, keyring, audit)
