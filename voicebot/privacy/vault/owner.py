"""Which store a vault belongs to: a marker file in the vault names its store, checked on open.

Recordings are named by attempt id (``calls/<id>/...``), and attempt ids are per store: two stores
writing into one vault would overwrite each other's calls and hand one store's auditor another
person's recording. So the first store to use a vault writes its id into ``STORE`` there, and
every later open compares: a vault already claimed by another store is refused.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from voicebot.privacy.vault.errors import VaultError

OWNER_FILE = "STORE"
"""The marker's name inside the vault directory (vault files all end in ``.vbv``)."""

log = logging.getLogger(__name__)


class VaultOwnerError(VaultError):
    """The vault belongs to another store (or its marker is unreadable)."""


def owner_of(root: Path) -> str | None:
    """The id of the store that claimed ``root``, or None if none has."""
    try:
        text = (root / OWNER_FILE).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise VaultOwnerError(
            f"vault {root}: its {OWNER_FILE} marker is unreadable: {exc}"
        ) from None
    if not text:
        raise VaultOwnerError(f"vault {root}: its {OWNER_FILE} marker is empty")
    return text


def claim(root: Path, store_id: str) -> None:
    """Make ``root`` the vault of store ``store_id``, or check that it already is.

    Raises:
        VaultOwnerError: another store claimed ``root`` first.
    """
    if not store_id.strip():
        raise ValueError("a vault is claimed by a store id, got an empty one")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    marker = root / OWNER_FILE
    if owner_of(root) is None:
        if any(root.rglob("*.vbv")):
            log.warning(
                "vault %s holds files but names no store: this store claims it (files written "
                "there by other stores before vaults had owners cannot be told apart)",
                root,
            )
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process claimed it meanwhile: compare below
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(store_id + "\n")
                out.flush()
                os.fsync(out.fileno())
    owner = owner_of(root)
    if owner != store_id:
        raise VaultOwnerError(
            f"vault {root} belongs to another store (id {owner}), not this one (id {store_id}): "
            "its recordings are named by that store's attempt ids. Open the store it belongs to, "
            "move the vault away if that store is gone, or give this store another vault "
            "($VOICEBOT_VAULT, or --vault DIR where the command has it)"
        )
