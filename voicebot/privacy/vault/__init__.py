"""Encryption at rest for recordings and transcripts (AES-256-GCM, envelope keys, audited reads).

Public API: :class:`Vault` (write, stream, open), :class:`AuditHook`, :class:`MasterKey`,
:class:`Keyring`, :func:`load_keyring`, :func:`rotate` and the errors (a vault belongs to one
store: :class:`VaultOwnerError`).
"""

from voicebot.privacy.vault.errors import (
    FormatError,
    IntegrityError,
    KeyFileError,
    UnknownKeyError,
    VaultError,
)
from voicebot.privacy.vault.keys import (
    Keyring,
    MasterKey,
    default_key_file,
    load_keyring,
    read_key_file,
    write_key_file,
)
from voicebot.privacy.vault.owner import VaultOwnerError
from voicebot.privacy.vault.rotate import RotationReport, rotate
from voicebot.privacy.vault.vault import AuditHook, Vault, VaultWriter, default_vault_dir

__all__ = [
    "AuditHook",
    "FormatError",
    "IntegrityError",
    "KeyFileError",
    "Keyring",
    "MasterKey",
    "RotationReport",
    "UnknownKeyError",
    "Vault",
    "VaultError",
    "VaultOwnerError",
    "VaultWriter",
    "default_key_file",
    "default_vault_dir",
    "load_keyring",
    "read_key_file",
    "rotate",
    "write_key_file",
]
