"""Key rotation re-wraps data keys, keeps payloads byte-identical, and can be resumed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voicebot.privacy.vault import Keyring, MasterKey, UnknownKeyError, Vault, rotate
from voicebot.privacy.vault.envelope import Header


class AuditLog:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str]] = []

    def __call__(self, actor: str, action: str, obj: str, purpose: str, /) -> None:
        self.calls.append((actor, action, obj, purpose))


def _body(path: Path) -> bytes:
    with path.open("rb") as source:
        Header.read(source, path.name)
        return source.read()


@pytest.fixture
def old_key() -> MasterKey:
    return MasterKey.generate()


@pytest.fixture
def files(tmp_path: Path, old_key: MasterKey) -> dict[str, bytes]:
    vault = Vault(tmp_path, Keyring(active=old_key), lambda *a: None, chunk_size=128)
    contents = {f"calls/c{i}.pcm": os.urandom(100 + 200 * i) for i in range(4)}
    for name, data in contents.items():
        vault.write(name, data)
    return contents


def test_rotation_then_only_the_new_key_is_needed(
    tmp_path: Path, old_key: MasterKey, files: dict[str, bytes]
) -> None:
    hook = AuditLog()
    vault = Vault(tmp_path, Keyring(active=old_key), hook)
    bodies = {name: _body(vault.path_of(name)) for name in files}
    new_key = MasterKey.generate()

    report = rotate(vault, new_key, actor="ops")

    assert report.complete and sorted(report.rewrapped) == sorted(files)
    assert vault.keyring.active.key_id == new_key.key_id
    assert {(c[0], c[1], c[3]) for c in hook.calls} == {("ops", "vault.rewrap", "key rotation")}
    only_new = Vault(tmp_path, Keyring(active=new_key), hook)
    for name, data in files.items():
        assert only_new.header(name).key_id == new_key.key_id
        assert _body(vault.path_of(name)) == bodies[name]  # payload not re-encrypted
        assert only_new.open(name, "check", "ops") == data
    only_old = Vault(tmp_path, Keyring(active=old_key), hook)
    with pytest.raises(UnknownKeyError, match=new_key.key_id):
        only_old.open("calls/c0.pcm", "check", "ops")
    assert [p for p in tmp_path.rglob(".*") if p.is_file()] == []  # no temporaries left


def test_old_files_still_decrypt_after_the_key_changes(
    tmp_path: Path, old_key: MasterKey, files: dict[str, bytes]
) -> None:
    new_key = MasterKey.generate()
    ring = Keyring(active=old_key).with_active(new_key)  # new key active, old kept
    vault = Vault(tmp_path, ring, lambda *a: None)
    vault.write("calls/new.pcm", b"after rotation")
    assert vault.header("calls/new.pcm").key_id == new_key.key_id
    assert vault.header("calls/c0.pcm").key_id == old_key.key_id
    for name, data in files.items():
        assert vault.open(name, "check", "ops") == data
    assert vault.open("calls/new.pcm", "check", "ops") == b"after rotation"


def test_rotation_is_resumable(tmp_path: Path, old_key: MasterKey, files: dict[str, bytes]) -> None:
    new_key = MasterKey.generate()
    seen: list[str] = []

    def crash_on_third(actor: str, action: str, obj: str, purpose: str, /) -> None:
        seen.append(obj)
        if len(seen) == 3:
            raise RuntimeError("power cut")

    vault = Vault(tmp_path, Keyring(active=old_key), crash_on_third)
    with pytest.raises(RuntimeError, match="power cut"):
        rotate(vault, new_key)
    under = {name: vault.header(name).key_id for name in files}
    assert sorted(under.values()).count(new_key.key_id) == 2  # two done, the rest untouched
    assert [p for p in tmp_path.rglob(".*") if p.is_file()] == []
    for name, data in files.items():  # both keys in the ring: everything still reads
        assert vault.open(name, "check", "ops") == data

    again = rotate(Vault(tmp_path, vault.keyring, lambda *a: None), new_key)
    assert len(again.rewrapped) == 2 and len(again.already_current) == 2
    assert {vault.header(name).key_id for name in files} == {new_key.key_id}


def test_files_under_a_missing_key_are_reported_not_fatal(
    tmp_path: Path, old_key: MasterKey, files: dict[str, bytes]
) -> None:
    stranger = MasterKey.generate()
    Vault(tmp_path, Keyring(active=stranger), lambda *a: None).write("calls/x.pcm", b"x")
    new_key = MasterKey.generate()
    vault = Vault(tmp_path, Keyring(active=old_key), lambda *a: None)
    report = rotate(vault, new_key)
    assert not report.complete
    assert list(report.failed) == ["calls/x.pcm"]
    assert stranger.key_id in report.failed["calls/x.pcm"]
    assert sorted(report.rewrapped) == sorted(files)
    assert vault.header("calls/x.pcm").key_id == stranger.key_id  # left untouched
