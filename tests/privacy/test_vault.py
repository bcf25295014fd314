"""The vault writes only ciphertext, reads only through the audit hook, and detects tampering."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from voicebot.privacy.vault import (
    FormatError,
    IntegrityError,
    Keyring,
    MasterKey,
    UnknownKeyError,
    Vault,
    VaultError,
)
from voicebot.privacy.vault.envelope import NONCE_BYTES, TAG_BYTES, Header

MARKER = b"PLAINTEXT-MARKER-4111111111111111"
CHUNK = 256


class AuditLog:
    """A real hook: records every call, optionally refusing."""

    def __init__(self, refuse: bool = False) -> None:
        self.calls: list[tuple[str, str, str, str]] = []
        self.refuse = refuse

    def __call__(self, actor: str, action: str, obj: str, purpose: str, /) -> None:
        self.calls.append((actor, action, obj, purpose))
        if self.refuse:
            raise PermissionError(f"{actor} may not read {obj}")


@pytest.fixture
def key() -> MasterKey:
    return MasterKey.generate()


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog()


@pytest.fixture
def vault(tmp_path: Path, key: MasterKey, audit: AuditLog) -> Vault:
    return Vault(tmp_path / "vault", Keyring(active=key), audit, chunk_size=CHUNK)


def _payload(size: int) -> bytes:
    block = MARKER + os.urandom(40)
    return (block * (size // len(block) + 1))[:size]


def _layout(vault: Vault, name: str) -> tuple[bytes, bytes, list[bytes]]:
    """(header bytes, body bytes, body cut into on-disk chunks)."""
    raw = vault.path_of(name).read_bytes()
    header_len = len(vault.header(name).encode())
    body = raw[header_len:]
    step = NONCE_BYTES + CHUNK + TAG_BYTES
    return raw[:header_len], body, [body[i : i + step] for i in range(0, len(body), step)]


def test_round_trip_bytes(vault: Vault) -> None:
    vault.write("calls/2026-11-22/c1.txt", b"hello transcript")
    assert vault.open("calls/2026-11-22/c1.txt", "qa review", "alice") == b"hello transcript"
    assert vault.names() == ["calls/2026-11-22/c1.txt"]


def test_round_trip_empty(vault: Vault) -> None:
    vault.write("empty", b"")
    assert vault.open("empty", "qa", "alice") == b""


@pytest.mark.parametrize("size", [CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 7 * CHUNK + 13])
def test_streamed_multi_chunk_round_trip(vault: Vault, size: int) -> None:
    data = _payload(size)
    with vault.writer("rec.pcm") as out:
        for i in range(0, size, 100):  # writes that straddle chunk boundaries
            out.write(data[i : i + 100])
    chunks = list(vault.stream("rec.pcm", "dispute", "bob"))
    assert b"".join(chunks) == data
    assert len(chunks) == max(1, -(-size // CHUNK))
    assert all(len(c) == CHUNK for c in chunks[:-1])


def test_large_single_write_and_numpy_frames(vault: Vault) -> None:
    big = _payload(300 * CHUNK + 7)
    pcm = np.arange(-800, 800, dtype=np.int16)
    with vault.writer("rec") as out:
        out.write(big)
        for frame in pcm.reshape(-1, 160):  # 20 ms frames, the engine's audio format
            out.write(frame.data)
    assert out.bytes_written == len(big) + pcm.nbytes
    data = vault.open("rec", "qa", "alice")
    assert data[: len(big)] == big
    assert np.array_equal(np.frombuffer(data[len(big) :], dtype=np.int16), pcm)


def test_write_accepts_an_iterable_of_blocks(vault: Vault) -> None:
    blocks = [_payload(300), _payload(1000), b"", _payload(7)]
    vault.write("rec", iter(blocks))
    assert vault.open("rec", "qa", "alice") == b"".join(blocks)


def test_no_plaintext_on_disk(vault: Vault, tmp_path: Path) -> None:
    data = _payload(10 * CHUNK)
    with vault.writer("rec.pcm") as out:
        out.write(data[: 3 * CHUNK])
        # mid-stream: whatever is on disk now is ciphertext only
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert MARKER not in path.read_bytes()
                assert oct(path.stat().st_mode & 0o777) == oct(0o600)
        out.write(data[3 * CHUNK :])
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1  # no temporary left behind
    assert MARKER not in files[0].read_bytes()
    assert b"4111111111111111" not in files[0].read_bytes()


def test_failed_write_leaves_nothing(vault: Vault, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), vault.writer("rec") as out:
        out.write(_payload(1000))
        raise RuntimeError("call dropped")
    assert not vault.exists("rec")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_refuses_to_overwrite_by_default(vault: Vault) -> None:
    vault.write("rec", b"first")
    with pytest.raises(VaultError, match="already exists"):
        vault.write("rec", b"second")
    vault.write("rec", b"second", overwrite=True)
    assert vault.open("rec", "qa", "alice") == b"second"


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/../b", ".hidden", "a//b", "", "a\\b"])
def test_names_cannot_escape(vault: Vault, name: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        vault.write(name, b"x")


def test_audit_hook_called_on_every_open(vault: Vault, audit: AuditLog) -> None:
    vault.write("rec", _payload(3 * CHUNK))
    vault.write("txt", b"transcript")
    assert audit.calls == []  # writing is not a disclosure
    vault.open("rec", "dispute #12", "alice")
    stream = vault.stream("txt", "qa", "bob")
    assert audit.calls[-1] == ("bob", "vault.open", "txt", "qa")  # before iteration starts
    list(stream)
    vault.open("rec", "dispute #12", "alice")
    assert audit.calls == [
        ("alice", "vault.open", "rec", "dispute #12"),
        ("bob", "vault.open", "txt", "qa"),
        ("alice", "vault.open", "rec", "dispute #12"),
    ]


def test_refusing_hook_prevents_decryption(tmp_path: Path, key: MasterKey) -> None:
    audit = AuditLog(refuse=True)
    vault = Vault(tmp_path, Keyring(active=key), audit)
    vault.write("rec", b"secret")
    with pytest.raises(PermissionError):
        vault.open("rec", "curiosity", "mallory")
    assert audit.calls == [("mallory", "vault.open", "rec", "curiosity")]


async def test_async_audit_hook(vault: Vault) -> None:
    calls: list[tuple[str, str, str, str]] = []

    async def audit_table(actor: str, action: str, obj: str, purpose: str, /) -> None:
        calls.append((actor, action, obj, purpose))

    vault.write("rec", _payload(3 * CHUNK))
    vault.audit = audit_table
    assert await vault.open_async("rec", "dispute", "carol") == vault_bytes(vault, "rec")
    assert calls == [("carol", "vault.open", "rec", "dispute")]
    with pytest.raises(TypeError, match="asynchronous"):
        vault.open("rec", "dispute", "carol")  # refused: the record would be lost unawaited
    assert calls == [("carol", "vault.open", "rec", "dispute")]


async def test_open_async_with_a_plain_hook(vault: Vault, audit: AuditLog) -> None:
    vault.write("rec", b"abc")
    assert await vault.open_async("rec", "qa", "dave") == b"abc"
    assert audit.calls == [("dave", "vault.open", "rec", "qa")]


def vault_bytes(vault: Vault, name: str) -> bytes:
    """The plaintext, read with a throwaway synchronous hook."""
    reader = Vault(vault.root, vault.keyring, lambda *a: None, chunk_size=CHUNK)
    return reader.open(name, "test oracle", "test")


def test_actor_and_purpose_required(vault: Vault) -> None:
    vault.write("rec", b"x")
    with pytest.raises(ValueError, match="actor and purpose"):
        vault.open("rec", "", "alice")
    with pytest.raises(ValueError, match="actor and purpose"):
        vault.open("rec", "qa", " ")


def test_missing_file(vault: Vault) -> None:
    with pytest.raises(VaultError, match="'nope' does not exist"):
        vault.open("nope", "qa", "alice")


def test_every_tampered_byte_is_detected(vault: Vault) -> None:
    data = _payload(2 * CHUNK + 10)
    vault.write("rec", data)
    path = vault.path_of("rec")
    original = path.read_bytes()
    for i in range(len(original)):
        damaged = bytearray(original)
        damaged[i] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(VaultError):
            vault.open("rec", "qa", "alice")
    path.write_bytes(original)
    assert vault.open("rec", "qa", "alice") == data


def test_tampered_body_names_the_chunk(vault: Vault) -> None:
    vault.write("rec", _payload(3 * CHUNK + 5))
    header, body, _ = _layout(vault, "rec")
    damaged = bytearray(body)
    damaged[NONCE_BYTES + CHUNK + TAG_BYTES + 40] ^= 0xFF  # inside chunk 1
    vault.path_of("rec").write_bytes(header + bytes(damaged))
    with pytest.raises(IntegrityError, match="chunk 1 failed authentication"):
        vault.open("rec", "qa", "alice")


def test_streaming_reader_stops_at_the_damaged_chunk(vault: Vault) -> None:
    data = _payload(3 * CHUNK + 5)
    vault.write("rec", data)
    header, _, chunks = _layout(vault, "rec")
    chunks[2] = chunks[2][:-1] + bytes([chunks[2][-1] ^ 1])
    vault.path_of("rec").write_bytes(header + b"".join(chunks))
    stream = vault.stream("rec", "qa", "alice")
    assert next(stream) + next(stream) == data[: 2 * CHUNK]
    with pytest.raises(IntegrityError, match="chunk 2"):
        next(stream)


def test_truncation_at_a_chunk_boundary(vault: Vault) -> None:
    vault.write("rec", _payload(4 * CHUNK))
    header, _, chunks = _layout(vault, "rec")
    vault.path_of("rec").write_bytes(header + b"".join(chunks[:2]))
    with pytest.raises(IntegrityError, match=r"truncated.*ends after chunk 1"):
        vault.open("rec", "qa", "alice")


def test_truncation_inside_a_chunk_and_of_all_chunks(vault: Vault) -> None:
    vault.write("rec", _payload(2 * CHUNK))
    header, body, _ = _layout(vault, "rec")
    for cut in (len(body) - 1, NONCE_BYTES + 5, 1):
        vault.path_of("rec").write_bytes(header + body[:cut])
        with pytest.raises(IntegrityError):
            vault.open("rec", "qa", "alice")
    vault.path_of("rec").write_bytes(header)
    with pytest.raises(IntegrityError, match="truncated \\(no chunks at all\\)"):
        vault.open("rec", "qa", "alice")


def test_truncated_header(vault: Vault) -> None:
    vault.write("rec", b"x")
    header, _, _ = _layout(vault, "rec")
    vault.path_of("rec").write_bytes(header[:20])
    with pytest.raises(FormatError, match="truncated header"):
        vault.open("rec", "qa", "alice")


@pytest.mark.parametrize(
    ("order", "failing"),
    [
        ([1, 0, 2, 3], "chunk 0 failed"),  # swapped
        ([0, 0, 1, 2, 3], "chunk 1 failed"),  # duplicated
        ([0, 2, 3], "chunk 1 failed"),  # dropped
        ([0, 1, 3, 2], "chunk 2 failed"),  # last chunk moved up
    ],
)
def test_reordered_duplicated_or_dropped_chunks(
    vault: Vault, order: list[int], failing: str
) -> None:
    vault.write("rec", _payload(4 * CHUNK))
    header, _, chunks = _layout(vault, "rec")
    vault.path_of("rec").write_bytes(header + b"".join(chunks[i] for i in order))
    with pytest.raises(IntegrityError, match=failing):
        vault.open("rec", "qa", "alice")


def test_chunks_spliced_from_another_file(vault: Vault) -> None:
    vault.write("a", _payload(2 * CHUNK))
    vault.write("b", _payload(2 * CHUNK))
    header_a, _, chunks_a = _layout(vault, "a")
    _, _, chunks_b = _layout(vault, "b")
    vault.path_of("a").write_bytes(header_a + chunks_a[0] + chunks_b[1])
    with pytest.raises(IntegrityError, match="chunk 1"):
        vault.open("a", "qa", "alice")


def test_not_a_vault_file(vault: Vault) -> None:
    vault.path_of("rec").parent.mkdir(parents=True, exist_ok=True)
    vault.path_of("rec").write_bytes(b"RIFF....WAVEfmt " + bytes(100))
    with pytest.raises(FormatError, match="not a voicebot vault file"):
        vault.open("rec", "qa", "alice")


def test_unknown_key_id_is_named(tmp_path: Path, audit: AuditLog) -> None:
    writer_key = MasterKey.generate()
    Vault(tmp_path, Keyring(active=writer_key), audit).write("rec", b"x")
    other = MasterKey.generate()
    reader = Vault(tmp_path, Keyring(active=other), audit)
    with pytest.raises(UnknownKeyError) as info:
        reader.open("rec", "qa", "alice")
    assert writer_key.key_id in str(info.value)
    assert other.key_id in str(info.value)
    assert info.value.key_id == writer_key.key_id


def test_wrong_key_under_the_right_id(vault: Vault) -> None:
    vault.write("rec", b"x")
    header = vault.header("rec")
    raw = vault.path_of("rec").read_bytes()
    impostor = MasterKey.generate()
    forged = raw.replace(header.key_id.encode(), impostor.key_id.encode(), 1)
    vault.path_of("rec").write_bytes(forged)
    vault.keyring = vault.keyring.with_active(impostor)
    with pytest.raises(
        IntegrityError, match=f"did not unwrap under master key '{impostor.key_id}'"
    ):
        vault.open("rec", "qa", "alice")


def test_header_records_the_key_id(vault: Vault, key: MasterKey) -> None:
    vault.write("rec", b"x")
    header = vault.header("rec")
    assert isinstance(header, Header)
    assert header.key_id == key.key_id
    assert key.key_id.encode() in vault.path_of("rec").read_bytes()


def test_two_writes_of_the_same_data_differ(vault: Vault) -> None:
    vault.write("a", b"same")
    vault.write("b", b"same")
    assert vault.path_of("a").read_bytes() != vault.path_of("b").read_bytes()


def test_delete(vault: Vault) -> None:
    vault.write("rec", b"x")
    assert vault.delete("rec") is True
    assert vault.delete("rec") is False
    assert vault.names() == []
