"""Master keys: private key files, the environment, key ids and the keyring."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from voicebot.privacy.vault import (
    KeyFileError,
    Keyring,
    MasterKey,
    UnknownKeyError,
    load_keyring,
    read_key_file,
    write_key_file,
)
from voicebot.privacy.vault.keys import ENV_KEY, ENV_KEY_FILE, default_key_file


def test_key_id_is_stable_and_reveals_nothing() -> None:
    key = MasterKey.generate()
    again = MasterKey.from_base64(key.to_base64())
    assert again.key_id == key.key_id
    assert len(key.key_id) == 16
    assert key.key_id != MasterKey.generate().key_id
    assert key.to_base64() not in repr(key)
    assert key.secret.hex()[:16] != key.key_id


def test_key_file_round_trip_is_private(tmp_path: Path) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    path = tmp_path / "conf" / "master.keys"
    write_key_file(path, Keyring(active=new, old=(old,)))
    assert path.stat().st_mode & 0o777 == 0o600
    ring = read_key_file(path)
    assert ring.active.key_id == new.key_id
    assert ring.key_ids == (new.key_id, old.key_id)
    assert ring.source == str(path)
    assert [p.name for p in path.parent.iterdir()] == ["master.keys"]


def test_write_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k"
    write_key_file(path, Keyring(active=MasterKey.generate()))
    with pytest.raises(KeyFileError, match="already exists"):
        write_key_file(path, Keyring(active=MasterKey.generate()))
    write_key_file(path, Keyring(active=MasterKey.generate()), overwrite=True)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o610])
def test_group_or_world_accessible_key_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "k"
    write_key_file(path, Keyring(active=MasterKey.generate()))
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match=f"mode is {mode:04o}.*chmod 600"):
        read_key_file(path)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_keyring(path)


def test_owner_only_modes_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "k"
    write_key_file(path, Keyring(active=MasterKey.generate()))
    os.chmod(path, 0o400)
    assert read_key_file(path).active


def _private(path: Path, text: str) -> Path:
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def test_malformed_lines_are_pinned(tmp_path: Path) -> None:
    key = MasterKey.generate()
    path = _private(tmp_path / "k", f"# comment\n\nactive {key.key_id}\n")
    with pytest.raises(KeyFileError, match=r"k:3: expected `active\|old <key id> <base64 key>`"):
        read_key_file(path)
    _private(path, f"active {key.key_id} not-base64!!\n")
    with pytest.raises(KeyFileError, match=r"k:1: master key is not valid base64"):
        read_key_file(path)
    short = base64.b64encode(b"x" * 16).decode()
    _private(path, f"active {key.key_id} {short}\n")
    with pytest.raises(KeyFileError, match=r"k:1: .*32 bytes \(AES-256\), got 16"):
        read_key_file(path)


def test_key_id_must_match_the_key(tmp_path: Path) -> None:
    key, other = MasterKey.generate(), MasterKey.generate()
    path = _private(tmp_path / "k", f"active {other.key_id} {key.to_base64()}\n")
    with pytest.raises(KeyFileError, match=f"key id '{other.key_id}' does not match"):
        read_key_file(path)


def test_exactly_one_active_key(tmp_path: Path) -> None:
    a, b = MasterKey.generate(), MasterKey.generate()
    path = _private(tmp_path / "k", f"old {a.key_id} {a.to_base64()}\n")
    with pytest.raises(KeyFileError, match="exactly one `active` key, found 0"):
        read_key_file(path)
    line_a = f"active {a.key_id} {a.to_base64()}\n"
    line_b = f"active {b.key_id} {b.to_base64()}\n"
    _private(path, line_a + line_b)
    with pytest.raises(KeyFileError, match="found 2"):
        read_key_file(path)


def test_environment_keys(tmp_path: Path) -> None:
    new, old = MasterKey.generate(), MasterKey.generate()
    ring = load_keyring(env={ENV_KEY: f"{new.to_base64()}, {old.to_base64()}"})
    assert ring.key_ids == (new.key_id, old.key_id)
    assert ring.source == ENV_KEY
    with pytest.raises(KeyFileError, match=rf"{ENV_KEY}\[0\]: master key is not valid base64"):
        load_keyring(env={ENV_KEY: "%%%"})


def test_load_order_and_missing_key(tmp_path: Path) -> None:
    path = tmp_path / "k"
    write_key_file(path, Keyring(active=MasterKey.generate()))
    assert load_keyring(env={ENV_KEY_FILE: str(path)}).source == str(path)
    with pytest.raises(KeyFileError, match="voicebot keys init"):
        load_keyring(env={ENV_KEY_FILE: str(tmp_path / "absent")})
    env_key = MasterKey.generate()
    both = {ENV_KEY: env_key.to_base64(), ENV_KEY_FILE: str(path)}
    assert load_keyring(env=both).active.key_id == env_key.key_id
    assert load_keyring(path, env=both).source == str(path)


def test_default_key_file_follows_the_config_dir() -> None:
    assert default_key_file().parent.name == "voicebot"
    assert str(default_key_file()).startswith(os.environ["XDG_CONFIG_HOME"])


def test_keyring_operations() -> None:
    a, b, c = MasterKey.generate(), MasterKey.generate(), MasterKey.generate()
    ring = Keyring(active=a).with_active(b).with_active(c)
    assert ring.key_ids == (c.key_id, b.key_id, a.key_id)
    assert ring.get(a.key_id) is a
    assert ring.without({a.key_id, b.key_id}).key_ids == (c.key_id,)
    with pytest.raises(KeyFileError, match="cannot retire the active key"):
        ring.without({c.key_id})
    with pytest.raises(UnknownKeyError, match="'0000000000000000' is not in the keyring"):
        ring.get("0000000000000000")
    with pytest.raises(KeyFileError, match="key listed twice"):
        Keyring(active=a, old=(a,))


def test_a_binary_file_is_not_a_key_file(tmp_path: Path) -> None:
    # A private binary file (say, a store created 0600 given by mistake) is one clear error.
    path = tmp_path / "store.db"
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(128, 256)))
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match=r"store.db: not a key file \(byte 16 is not UTF-8"):
        read_key_file(path)
