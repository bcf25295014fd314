"""The vault: recordings and transcripts encrypted at rest, readable only through an audit.

Files are written once, streamed through :class:`~voicebot.privacy.vault.envelope.ChunkWriter`
into a hidden temporary sibling that holds ciphertext only, then renamed into place: plaintext
never touches the disk, and a crash never leaves a half-written file under a real name.

Reading is the audited path. :meth:`Vault.open` and :meth:`Vault.stream` call the injected
:class:`AuditHook` before any decryption; if the hook raises, nothing is decrypted. The hook's
storage (an audit table with a hash chain) belongs to the store, not here.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
from collections.abc import Awaitable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

import platformdirs

from voicebot.privacy.vault.atomic import atomic_write, is_temp
from voicebot.privacy.vault.envelope import (
    DEFAULT_CHUNK_SIZE,
    ChunkWriter,
    Header,
    decrypt_chunks,
    new_header,
    unwrap,
)
from voicebot.privacy.vault.errors import VaultError
from voicebot.privacy.vault.keys import Keyring

ENV_VAULT = "VOICEBOT_VAULT"
"""Directory of the vault, when not the default."""

SUFFIX = ".vbv"
"""Extension of vault files on disk; the name a caller uses does not include it."""

ACTION_OPEN = "vault.open"
"""The audit action recorded for every decryption."""

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}(?:/[A-Za-z0-9_][A-Za-z0-9._-]{0,127})*")


def default_vault_dir() -> Path:
    """``$VOICEBOT_VAULT``, else ``vault/`` in the user's data directory."""
    configured = os.environ.get(ENV_VAULT)
    return Path(configured) if configured else platformdirs.user_data_path("voicebot") / "vault"


class AuditHook(Protocol):
    """Records who read what and why, before the vault decrypts it.

    Called as ``hook(actor, action, object, purpose)``; raising refuses the access. A plain
    function serves :meth:`Vault.open` and :meth:`Vault.stream`; an ``async def`` hook (an
    audit table behind an async database) serves :meth:`Vault.open_async`, and the synchronous
    methods refuse it rather than drop the record unawaited.
    """

    def __call__(
        self, actor: str, action: str, obj: str, purpose: str, /
    ) -> Awaitable[None] | None: ...


class VaultWriter:
    """A file being written: feed plaintext with :meth:`write`; only ciphertext reaches disk."""

    def __init__(self, chunks: ChunkWriter) -> None:
        self._chunks = chunks
        self.bytes_written = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt and append ``data`` (buffered in memory up to one chunk)."""
        self._chunks.write(data)
        self.bytes_written += memoryview(data).nbytes


class Vault:
    """Encrypted files under ``root``, named by slash-separated relative names.

    Args:
        root: directory holding the files (created on first write).
        keyring: its active key wraps new files; any key in it can read old ones.
        audit: called before every decryption.
        chunk_size: plaintext bytes per encrypted chunk for new files.
    """

    def __init__(
        self,
        root: Path,
        keyring: Keyring,
        audit: AuditHook,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.root = root
        self.keyring = keyring
        self.audit = audit
        """Called before every decryption; rotation reports re-wraps through it too."""
        self._chunk_size = chunk_size

    def path_of(self, name: str) -> Path:
        """Where ``name`` lives on disk.

        Raises:
            ValueError: the name could escape the vault or is not a plain relative name.
        """
        if not _NAME.fullmatch(name) or any(part in (".", "..") for part in name.split("/")):
            raise ValueError(
                f"vault name {name!r} is invalid: use letters, digits, '.', '_', '-' in "
                "'/'-separated parts that do not start with '.' or '-'"
            )
        return self.root / (name + SUFFIX)

    @contextmanager
    def writer(self, name: str, *, overwrite: bool = False) -> Iterator[VaultWriter]:
        """Stream a new file: it appears under ``name`` only when the block exits cleanly.

        Raises:
            VaultError: ``name`` exists and ``overwrite`` is False.
        """
        path = self.path_of(name)
        header, data_key = new_header(self.keyring.active, self._chunk_size)
        try:
            with atomic_write(path, overwrite=overwrite) as sink:
                chunks = ChunkWriter(header, data_key, sink)
                yield VaultWriter(chunks)
                chunks.close()
        except FileExistsError:
            raise VaultError(f"vault file {name!r} already exists") from None

    def write(self, name: str, data: bytes | Iterable[bytes], *, overwrite: bool = False) -> None:
        """Encrypt ``data`` (bytes, or an iterable of byte blocks) into ``name``."""
        with self.writer(name, overwrite=overwrite) as out:
            if isinstance(data, bytes | bytearray | memoryview):
                out.write(data)
            else:
                for block in data:
                    out.write(block)

    def open(self, name: str, purpose: str, actor: str) -> bytes:
        """The whole plaintext of ``name``, fully authenticated, after auditing the access."""
        return b"".join(self.stream(name, purpose, actor))

    def stream(self, name: str, purpose: str, actor: str) -> Iterator[bytes]:
        """The plaintext of ``name`` chunk by chunk, after auditing the access.

        The audit and the key checks happen on this call, before iteration; a chunk that fails
        authentication raises :class:`~voicebot.privacy.vault.errors.IntegrityError` during it.
        """
        path = self.path_of(name)
        self.record(actor, ACTION_OPEN, name, purpose)
        return self._decrypt(path, name)

    async def open_async(self, name: str, purpose: str, actor: str) -> bytes:
        """:meth:`open` for async callers: awaits an async audit hook, decrypts in a thread."""
        path = self.path_of(name)
        _check_who(actor, purpose)
        outcome = self.audit(actor, ACTION_OPEN, name, purpose)
        if inspect.isawaitable(outcome):
            await outcome
        return await asyncio.to_thread(lambda: b"".join(self._decrypt(path, name)))

    def record(self, actor: str, action: str, obj: str, purpose: str) -> None:
        """Call the audit hook synchronously (reads and key rotation go through here).

        Raises:
            TypeError: the hook is asynchronous; use :meth:`open_async`.
        """
        _check_who(actor, purpose)
        outcome = self.audit(actor, action, obj, purpose)
        if inspect.isawaitable(outcome):
            if inspect.iscoroutine(outcome):
                outcome.close()
            raise TypeError(
                "the vault's audit hook is asynchronous and cannot be awaited here; "
                "use `await vault.open_async(...)`, or give the vault a synchronous hook"
            )

    def _decrypt(self, path: Path, name: str) -> Iterator[bytes]:
        source = _open_existing(path, name)
        try:
            header = Header.read(source, name)
            data_key = unwrap(header, self.keyring, name)
        except BaseException:
            source.close()
            raise
        return _closing(decrypt_chunks(source, header, data_key, name), source)

    def header(self, name: str) -> Header:
        """The header of ``name`` (key id, chunk size); reads no payload, so it is not audited."""
        with _open_existing(self.path_of(name), name) as source:
            return Header.read(source, name)

    def exists(self, name: str) -> bool:
        """Whether ``name`` is stored."""
        return self.path_of(name).is_file()

    def delete(self, name: str) -> bool:
        """Remove ``name``; True if it existed. Retention and erasure call this."""
        try:
            self.path_of(name).unlink()
        except FileNotFoundError:
            return False
        return True

    def names(self) -> list[str]:
        """Every stored name, sorted; unfinished temporary files are not listed."""
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.rglob("*" + SUFFIX):
            if path.is_file() and not is_temp(path):
                relative = path.relative_to(self.root).as_posix()
                found.append(relative[: -len(SUFFIX)])
        return sorted(found)


def _check_who(actor: str, purpose: str) -> None:
    if not actor.strip() or not purpose.strip():
        raise ValueError("reading the vault needs a non-empty actor and purpose")


def _open_existing(path: Path, name: str) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise VaultError(f"vault file {name!r} does not exist") from None


def _closing(chunks: Iterator[bytes], source: BinaryIO) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        source.close()
