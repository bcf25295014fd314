"""What can go wrong reading the vault, named so a caller can tell a bad key from a bad file.

A recording that fails to decrypt is evidence; the message has to say which file, which chunk and
which key, so an operator knows whether to look for a missing key or for tampering.
"""

from __future__ import annotations


class VaultError(Exception):
    """Base class of every vault failure."""


class KeyFileError(VaultError):
    """A master key or key file is unusable (bad format, wrong permissions, missing)."""


class UnknownKeyError(VaultError):
    """A file was written under a master key id that the keyring does not hold."""

    def __init__(self, key_id: str, known: tuple[str, ...], where: str = "") -> None:
        self.key_id = key_id
        self.known = known
        prefix = f"{where}: " if where else ""
        listed = ", ".join(known) if known else "none"
        super().__init__(
            f"{prefix}master key {key_id!r} is not in the keyring (keyring holds: {listed}); "
            "restore the key file that holds it, or add the old key to VOICEBOT_MASTER_KEY"
        )


class FormatError(VaultError):
    """The bytes are not a vault file this version understands."""


class IntegrityError(VaultError):
    """Authentication failed: the file was modified, truncated, reordered or the key is wrong."""
