"""``voicebot keys ...``: create, list and rotate the master keys that protect recordings.

Rotation order is what keeps it safe: the new key is saved in the key file (beside the old ones)
*before* any file is re-wrapped, so an interruption never leaves a file under a key nobody kept;
``--resume`` finishes the job with the key already active.

``--retire`` keeps every old key the store still needs: phone numbers in the store are hashed
and sealed under the key that was active when each row was written, erased numbers stay on
the do-not-call list as digests under theirs (:mod:`voicebot.privacy.number_keys`), and the
audit log's high-water mark is sealed under the key active at the last append. Dropping such
a key would make those rows unmatchable, so it is kept and said so.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
import structlog

from voicebot.privacy.vault import (
    KeyFileError,
    Keyring,
    MasterKey,
    Vault,
    VaultError,
    default_key_file,
    load_keyring,
    rotate,
    write_key_file,
)
from voicebot.privacy.vault.keys import ENV_KEY, ENV_KEY_FILE
from voicebot.privacy.vault.vault import ENV_VAULT
from voicebot.store import db_option, resolve_db_url

_log = structlog.get_logger("voicebot.audit")
T = TypeVar("T")

key_file_option = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=(
        f"Key file. Without it: keys from ${ENV_KEY}, else the file named by ${ENV_KEY_FILE}, "
        "else master.keys in the user config directory."
    ),
)
vault_option = click.option(
    "--vault",
    "vault_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Vault directory [default: ${ENV_VAULT}, else the store's own vault].",
)


@click.group()
def keys() -> None:
    """Master keys for recordings and transcripts encrypted at rest."""


@keys.command("init")
@key_file_option
@click.option(
    "--stdout",
    "to_stdout",
    is_flag=True,
    help=f"Print a new key as {ENV_KEY}=... instead of writing a key file.",
)
def init(key_file: Path | None, to_stdout: bool) -> None:
    """Create a key file (mode 0600) holding one new active key."""
    key = MasterKey.generate()
    if to_stdout:
        click.echo(f"{ENV_KEY}={key.to_base64()}")
        return
    path = key_file or _key_file_path()
    _run(lambda: write_key_file(path, Keyring(active=key)))
    click.echo(f"created {path} (mode 0600) with active key {key.key_id}")
    click.echo("back this file up somewhere safe: recordings cannot be read without it")


@keys.command("list")
@key_file_option
@vault_option
@db_option
def list_keys(key_file: Path | None, vault_dir: Path | None, db: str | None) -> None:
    """Show each key id, whether it is active, and how many vault files use it."""
    keyring = _run(lambda: load_keyring(key_file))
    vault = _run(lambda: _store_vault(resolve_db_url(db), keyring, vault_dir))
    usage = _usage(vault)
    click.echo(f"keys from {keyring.source}; vault {vault.root}")
    for key in keyring.keys:
        status = "active" if key is keyring.active else "old"
        click.echo(f"{key.key_id}  {status:<7} {usage.pop(key.key_id, 0)} files")
    for key_id, count in sorted(usage.items()):
        click.echo(f"{key_id}  MISSING {count} files (not in the keyring: they cannot be read)")


@keys.command("rotate")
@key_file_option
@vault_option
@click.option("--resume", is_flag=True, help="Re-wrap remaining files under the active key.")
@click.option("--retire", is_flag=True, help="Afterwards drop old keys no file uses any more.")
@click.option("--actor", default="voicebot keys rotate", show_default=True, help="For the audit.")
@db_option
def rotate_keys(
    key_file: Path | None,
    vault_dir: Path | None,
    resume: bool,
    retire: bool,
    actor: str,
    db: str | None,
) -> None:
    """Make a new key active and re-wrap every vault file's data key under it.

    Payloads are not re-encrypted; each file is replaced atomically. Interrupted? Run again
    with --resume.
    """
    keyring = _run(lambda: load_keyring(key_file))
    from_env = keyring.source == ENV_KEY
    if from_env and not resume:
        raise click.ClickException(
            f"keys come from {ENV_KEY}, which this command cannot update: create a key with "
            f"`voicebot keys init --stdout`, put it first in {ENV_KEY} (old keys after it, "
            "comma-separated), then run `voicebot keys rotate --resume`"
        )
    path = Path(keyring.source)
    if not resume:
        keyring = keyring.with_active(MasterKey.generate())
        _run(lambda: write_key_file(path, keyring, overwrite=True))
        click.echo(f"new active key {keyring.active.key_id} saved in {path}")
    vault = _run(lambda: _store_vault(resolve_db_url(db), keyring, vault_dir))
    report = rotate(vault, keyring.active, actor=actor)
    click.echo(
        f"re-wrapped {len(report.rewrapped)} files under {report.key_id}; "
        f"{len(report.already_current)} already were; {len(report.failed)} failed"
    )
    for name, why in sorted(report.failed.items()):
        click.echo(f"  failed {name}: {why}", err=True)
    if not report.complete:
        raise click.ClickException("rotation incomplete: fix the files above, then --resume")
    if retire:
        in_store = {k.key_id for k in keyring.old} & _store_key_ids(resolve_db_url(db))
        for key_id in sorted(in_store):
            click.echo(f"kept {key_id}: the store's numbers are hashed and sealed under it")
        unused = {k.key_id for k in keyring.old} - set(_usage(vault)) - in_store
        if from_env:
            click.echo(f"no file uses {sorted(unused)} any more; remove them from {ENV_KEY}")
        else:
            _run(lambda: write_key_file(path, keyring.without(unused), overwrite=True))
            click.echo(f"retired {len(unused)} old keys from {path}")


def _store_vault(url: str, keyring: Keyring, vault_dir: Path | None) -> Vault:
    """``vault_dir``, else the vault of the store at ``url`` (derived from where it lives).

    Listing and re-wrapping write no call's file, so the store is not opened for its id.
    """
    from voicebot.store.identity import store_vault_root

    return Vault(vault_dir or store_vault_root(url), keyring, _audit)


def _store_key_ids(url: str) -> set[str]:
    """Master key ids the store's rows need (numbers, erased digests); none if no store yet."""
    from sqlalchemy import select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from voicebot.privacy.audit_watermark import WatermarkSeal, read_mark
    from voicebot.store.engine import open_store
    from voicebot.store.models import DNC_ERASED, NUMBER_KEYS

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return set()

    async def read() -> set[str]:
        # Not migrated, nothing registered: this only reads which keys the rows were made under.
        store = await open_store(url, migrate=False, keyring=Keyring(MasterKey.generate()))
        try:
            used: set[str] = set()
            for column in (NUMBER_KEYS.c.key_id, DNC_ERASED.c.key_id):
                try:
                    async with store.engine.connect() as conn:
                        used |= {str(k) for k in (await conn.execute(select(column))).scalars()}
                except DBAPIError:  # an older schema without this table
                    continue
            try:  # the audit log's high-water mark is sealed under a key too
                async with store.engine.connect() as conn:
                    mark = await conn.run_sync(read_mark)
            except DBAPIError:
                mark = None
            if mark is not None and mark.seal:
                used.add(WatermarkSeal(store.numbers.keyring).sealed_under(mark))
            return used
        finally:
            await store.close()

    return asyncio.run(read())


def _key_file_path() -> Path:
    configured = os.environ.get(ENV_KEY_FILE)
    return Path(configured) if configured else default_key_file()


def _usage(vault: Vault) -> Counter[str]:
    """Files per key id, read from headers only (no decryption, nothing to audit)."""
    counts: Counter[str] = Counter()
    for name in vault.names():
        try:
            counts[vault.header(name).key_id] += 1
        except VaultError as exc:
            click.echo(f"unreadable header: {exc}", err=True)
    return counts


def _audit(actor: str, action: str, obj: str, purpose: str, /) -> None:
    _log.info("audit", actor=actor, action=action, object=obj, purpose=purpose)


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except (KeyFileError, VaultError) as exc:
        raise click.ClickException(str(exc)) from None
