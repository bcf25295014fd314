"""The vault file format: an envelope-encrypted, chunked AES-256-GCM stream.

Layout (integers big-endian)::

    header  magic "VBVAULT\\0" | version u8 | chunk_size u32 | file_id 16B
            | key_id_len u8 | key_id (ASCII) | wrap_nonce 12B | wrapped data key 48B
    body    chunk*:  nonce 12B | ciphertext | tag 16B

Each file has its own random 256-bit data key; the header carries it wrapped (AES-256-GCM) by a
master key named by ``key_id``, with the rest of the header as associated data, so editing the
header breaks the unwrap. Rotation rewrites only the key part of the header and copies the body
as is.

The body is cut into ``chunk_size`` plaintext chunks so a recording can be encrypted as it is
captured, holding at most one chunk of plaintext in memory and none on disk. Every chunk has its
own nonce and tag, and its associated data binds the file id, the chunk index and a final flag:
swapping, dropping, duplicating or splicing chunks, or cutting the file short, fails
authentication. The final flag is what makes truncation at a chunk boundary detectable.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from voicebot.privacy.vault.errors import FormatError, IntegrityError
from voicebot.privacy.vault.keys import KEY_BYTES, Keyring, MasterKey

MAGIC = b"VBVAULT\x00"
VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
FILE_ID_BYTES = 16
WRAPPED_BYTES = KEY_BYTES + TAG_BYTES
DEFAULT_CHUNK_SIZE = 64 * 1024
"""64 KiB: about 4 s of 8 kHz int16 audio per chunk."""
MAX_CHUNK_SIZE = 16 * 1024 * 1024

_BODY = struct.Struct(">8sBI16s")  # magic, version, chunk_size, file_id
_FIXED = struct.Struct(">8sBI16sB")  # the same, then key_id_len
_INDEX = struct.Struct(">QB")  # chunk index, final flag


@dataclass(frozen=True)
class Header:
    """A vault file's header: the body parameters and the wrapped data key."""

    chunk_size: int
    file_id: bytes
    key_id: str
    wrap_nonce: bytes
    wrapped_key: bytes = field(repr=False)
    version: int = VERSION

    def body_context(self) -> bytes:
        """The bytes every chunk's associated data starts with; unchanged by rotation."""
        return _BODY.pack(MAGIC, self.version, self.chunk_size, self.file_id)

    def wrap_context(self) -> bytes:
        """Associated data of the data-key wrap: the body parameters and the key id."""
        return self.body_context() + self.key_id.encode("ascii")

    def encode(self) -> bytes:
        """The header as stored at the start of the file."""
        kid = self.key_id.encode("ascii")
        fixed = _FIXED.pack(MAGIC, self.version, self.chunk_size, self.file_id, len(kid))
        return fixed + kid + self.wrap_nonce + self.wrapped_key

    @classmethod
    def read(cls, source: BinaryIO, where: str) -> Header:
        """Parse the header at the start of ``source``.

        Raises:
            FormatError: not a vault file, an unsupported version or a cut-off header.
        """
        fixed = _read_exact(source, _FIXED.size, where, "header")
        magic, version, chunk_size, file_id, kid_len = _FIXED.unpack(fixed)
        if magic != MAGIC:
            raise FormatError(f"{where}: not a voicebot vault file (bad magic {magic!r})")
        if version != VERSION:
            raise FormatError(
                f"{where}: vault format version {version} is not supported (this build reads "
                f"version {VERSION})"
            )
        if not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise FormatError(f"{where}: chunk size {chunk_size} is out of range")
        raw_kid = _read_exact(source, kid_len, where, "key id")
        if not kid_len or not (raw_kid.isascii() and raw_kid.decode("ascii").isprintable()):
            raise FormatError(f"{where}: the key id in the header is not printable ASCII")
        wrap_nonce = _read_exact(source, NONCE_BYTES, where, "wrap nonce")
        wrapped = _read_exact(source, WRAPPED_BYTES, where, "wrapped data key")
        return cls(chunk_size, file_id, raw_kid.decode("ascii"), wrap_nonce, wrapped, version)


def new_header(master: MasterKey, chunk_size: int = DEFAULT_CHUNK_SIZE) -> tuple[Header, bytes]:
    """A header for a new file, and the file's fresh data key (kept only in memory)."""
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be in 1..{MAX_CHUNK_SIZE}, got {chunk_size}")
    data_key = AESGCM.generate_key(bit_length=256)
    draft = Header(chunk_size, os.urandom(FILE_ID_BYTES), master.key_id, b"", b"")
    return wrap(draft, data_key, master), data_key


def wrap(header: Header, data_key: bytes, master: MasterKey) -> Header:
    """``header`` with ``data_key`` wrapped under ``master`` (a fresh wrap nonce)."""
    draft = Header(header.chunk_size, header.file_id, master.key_id, b"", b"", header.version)
    nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(master.secret).encrypt(nonce, data_key, draft.wrap_context())
    return Header(draft.chunk_size, draft.file_id, master.key_id, nonce, wrapped, draft.version)


def unwrap(header: Header, keyring: Keyring, where: str) -> bytes:
    """The data key of a file.

    Raises:
        UnknownKeyError: the header names a master key the keyring lacks.
        IntegrityError: the header was modified, or the key under that id is not the one used.
    """
    master = keyring.get(header.key_id, where)
    try:
        return AESGCM(master.secret).decrypt(
            header.wrap_nonce, header.wrapped_key, header.wrap_context()
        )
    except InvalidTag:
        raise IntegrityError(
            f"{where}: the data key did not unwrap under master key {header.key_id!r}: "
            "the header was modified or the file is corrupt"
        ) from None


class ChunkWriter:
    """Encrypts a plaintext stream into chunks written to ``sink`` (which gets ciphertext only).

    Holds back up to one chunk of plaintext in memory so the last chunk can carry the final flag.
    """

    def __init__(self, header: Header, data_key: bytes, sink: BinaryIO) -> None:
        self._header = header
        self._aead = AESGCM(data_key)
        self._context = header.body_context()
        self._sink = sink
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        sink.write(header.encode())

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Add plaintext (``frame.data`` passes a numpy frame without a copy); full
        chunks are encrypted and written once a later byte shows they are not the last."""
        if self._closed:
            raise ValueError("write to a closed vault file")
        view = memoryview(data).cast("B")
        size = self._header.chunk_size
        while len(view):
            if len(self._buffer) == size:
                self._emit(bytes(self._buffer), final=False)
                self._buffer.clear()
            take = size - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]

    def close(self) -> None:
        """Encrypt the remaining plaintext as the final chunk (empty if nothing is left)."""
        if self._closed:
            return
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()
        self._closed = True

    def _emit(self, plaintext: bytes, final: bool) -> None:
        nonce = os.urandom(NONCE_BYTES)
        aad = self._context + _INDEX.pack(self._index, final)
        self._sink.write(nonce + self._aead.encrypt(nonce, plaintext, aad))
        self._index += 1


def decrypt_chunks(
    source: BinaryIO, header: Header, data_key: bytes, where: str
) -> Iterator[bytes]:
    """Plaintext chunk by chunk, each yielded only after its tag verified.

    A consumer must treat an exception as invalidating everything already yielded: a later
    chunk can still fail (tampered, truncated).

    Raises:
        IntegrityError: naming the chunk that failed and, for a cut-off file, saying so.
    """
    aead = AESGCM(data_key)
    context = header.body_context()
    full = NONCE_BYTES + header.chunk_size + TAG_BYTES
    index = 0
    current = _read_up_to(source, full)
    while True:
        following = b"" if len(current) < full else _read_up_to(source, full)
        final = not following
        yield _open_chunk(aead, context, current, index, final, where)
        if final:
            return
        current, index = following, index + 1


def _open_chunk(
    aead: AESGCM, context: bytes, block: bytes, index: int, final: bool, where: str
) -> bytes:
    if len(block) < NONCE_BYTES + TAG_BYTES:
        what = "no chunks at all" if index == 0 and not block else f"a cut-off chunk {index}"
        raise IntegrityError(f"{where}: the file is truncated ({what})")
    nonce, sealed = block[:NONCE_BYTES], block[NONCE_BYTES:]
    try:
        return aead.decrypt(nonce, sealed, context + _INDEX.pack(index, final))
    except InvalidTag:
        pass
    if final:
        try:
            aead.decrypt(nonce, sealed, context + _INDEX.pack(index, False))
        except InvalidTag:
            pass
        else:
            raise IntegrityError(
                f"{where}: the file is truncated: it ends after chunk {index}, "
                "which was not written as the last one"
            ) from None
    raise IntegrityError(
        f"{where}: chunk {index} failed authentication: the file was modified, or its chunks "
        "reordered, duplicated or spliced from another file"
    )


def _read_up_to(source: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _read_exact(source: BinaryIO, size: int, where: str, what: str) -> bytes:
    data = _read_up_to(source, size)
    if len(data) != size:
        raise FormatError(f"{where}: the file ends inside the {what} (truncated header)")
    return data
