"""Options and helpers shared by ``voicebot purge`` and ``voicebot erase``: the vault to work on,
opening the store, and turning known errors into clean CLI errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from voicebot.commands.store_work import run_on_store
from voicebot.privacy.audit_events import vault_hook
from voicebot.privacy.numbers import InvalidNumber
from voicebot.privacy.vault import KeyFileError, Vault, VaultError, load_keyring
from voicebot.store import Store
from voicebot.store.identity import store_vault_root

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def vault_option(func: F) -> F:
    """``--vault DIR``: the recordings/transcripts vault (default: $VOICEBOT_VAULT)."""
    option = click.option(
        "--vault",
        "vault_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Vault directory of recordings and transcripts (default: $VOICEBOT_VAULT, else the "
        "store's own: beside a SQLite file as FILE.vault/, the user data dir's vault/ for the "
        "default store).",
    )
    return option(func)


def open_vault(store: Store, vault_dir: Path | None, *, required: bool) -> Vault | None:
    """The vault at ``vault_dir`` (or the default), its reads audited in ``store``.

    None when there is no vault directory and no key, unless ``required``.
    """
    root = vault_dir or store_vault_root(store.url)
    try:
        keyring = load_keyring()
    except KeyFileError:
        if not required and not root.exists():
            return None
        raise
    return store.vault(keyring, vault_hook(store), root)


def run_store_work(db: str | None, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store, run ``work``, close it; known errors become clean CLI errors."""
    return run_on_store(
        db, work, errors=(KeyFileError, VaultError, InvalidNumber, ValueError, RuntimeError)
    )
