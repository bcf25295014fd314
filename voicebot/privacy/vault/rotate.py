"""Key rotation: re-wrap every file's data key under a new master key, payload untouched.

Only the header changes; the encrypted body is copied byte for byte, so rotating a year of
recordings costs a copy, not a decryption, and never produces plaintext. Each file is replaced
atomically, so a crash leaves it under the old key or the new one; running again skips files
already under the new key (resumable). Files the keyring cannot unwrap are reported, not fatal.

Order matters for safety: persist a keyring that holds both the old keys and ``new_key`` before
calling :func:`rotate`; otherwise a crash midway could leave files under a key nobody kept.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from voicebot.privacy.vault.atomic import atomic_write
from voicebot.privacy.vault.envelope import Header, unwrap, wrap
from voicebot.privacy.vault.errors import VaultError
from voicebot.privacy.vault.keys import MasterKey
from voicebot.privacy.vault.vault import Vault

ACTION_REWRAP = "vault.rewrap"
"""The audit action recorded for every file whose data key was re-wrapped."""


@dataclass
class RotationReport:
    """What a rotation did, file by file."""

    key_id: str
    rewrapped: list[str] = field(default_factory=list)
    already_current: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """name -> why it could not be re-wrapped (missing key, damaged header, vanished)."""

    @property
    def complete(self) -> bool:
        """Every file is now under the new key."""
        return not self.failed


def rotate(vault: Vault, new_key: MasterKey, *, actor: str = "key rotation") -> RotationReport:
    """Make ``new_key`` the vault's active key and re-wrap every file under it.

    The vault's keyring must still hold the keys the files were written under. New writes use
    ``new_key`` from this call on. Each re-wrap is reported to the vault's audit hook as
    ``vault.rewrap`` (the data key is handled, though the payload is not decrypted).
    """
    vault.keyring = vault.keyring.with_active(new_key)
    report = RotationReport(key_id=new_key.key_id)
    for name in vault.names():
        try:
            if _rewrap_file(vault, name, new_key, actor):
                report.rewrapped.append(name)
            else:
                report.already_current.append(name)
        except (VaultError, OSError) as exc:
            report.failed[name] = str(exc)
    return report


def _rewrap_file(vault: Vault, name: str, new_key: MasterKey, actor: str) -> bool:
    path = vault.path_of(name)
    with path.open("rb") as source:
        before = os.fstat(source.fileno())
        header = Header.read(source, name)
        if header.key_id == new_key.key_id:
            return False
        data_key = unwrap(header, vault.keyring, name)
        vault.record(actor, ACTION_REWRAP, name, "key rotation")
        with atomic_write(path) as sink:
            sink.write(wrap(header, data_key, new_key).encode())
            shutil.copyfileobj(source, sink, 1024 * 1024)
            _check_unchanged(path, before, name)
    return True


def _check_unchanged(path: os.PathLike[str], before: os.stat_result, name: str) -> None:
    """Refuse to resurrect a file deleted (retention, erasure) while it was being copied."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        raise VaultError(f"{name}: deleted during rotation; not re-created") from None
    if (now.st_ino, now.st_size, now.st_mtime_ns) != (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    ):
        raise VaultError(f"{name}: changed during rotation; left as it was")
