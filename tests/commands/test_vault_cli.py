"""``voicebot keys init|list|rotate`` against a real key file and vault."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from voicebot.cli import cli
from voicebot.privacy.vault import Keyring, MasterKey, Vault, read_key_file
from voicebot.privacy.vault.keys import ENV_KEY

_NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def _invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["keys", *args], env=env, catch_exceptions=False)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / "master.keys"
    result = _invoke("init", "--key-file", str(path))
    assert result.exit_code == 0, result.output
    return path


def _vault(tmp_path: Path, keyring: Keyring) -> Vault:
    return Vault(tmp_path / "vault", keyring, lambda *a: None)


def test_init_creates_a_private_key_file(key_file: Path) -> None:
    assert key_file.stat().st_mode & 0o777 == 0o600
    ring = read_key_file(key_file)
    assert ring.old == ()
    again = _invoke("init", "--key-file", str(key_file))
    assert again.exit_code == 1 and "already exists" in again.output
    assert read_key_file(key_file).active.key_id == ring.active.key_id


def test_init_stdout_prints_an_env_key() -> None:
    result = _invoke("init", "--stdout")
    name, value = result.output.strip().split("=", 1)
    assert name == ENV_KEY
    assert len(MasterKey.from_base64(value).secret) == 32


def test_list_shows_keys_and_usage(tmp_path: Path, key_file: Path) -> None:
    ring = read_key_file(key_file)
    vault = _vault(tmp_path, ring)
    vault.write("a", b"1")
    vault.write("b", b"2")
    _vault(tmp_path, Keyring(active=MasterKey.generate())).write("c", b"3")
    result = _invoke("list", "--key-file", str(key_file), "--vault", str(vault.root))
    assert result.exit_code == 0, result.output
    assert f"{ring.active.key_id}  active  2 files" in result.output
    assert "MISSING 1 files" in result.output
    assert ring.active.to_base64() not in result.output


def test_rotate_then_retire(tmp_path: Path, key_file: Path) -> None:
    first = read_key_file(key_file)
    vault = _vault(tmp_path, first)
    vault.write("calls/a", b"recording a")
    vault.write("calls/b", b"recording b")
    args = ("--key-file", str(key_file), "--vault", str(vault.root))

    result = _invoke("rotate", *args)
    assert result.exit_code == 0, result.output
    assert "re-wrapped 2 files" in result.output
    ring = read_key_file(key_file)
    assert ring.active.key_id != first.active.key_id
    assert ring.key_ids == (ring.active.key_id, first.active.key_id)  # old key kept
    assert key_file.stat().st_mode & 0o777 == 0o600

    result = _invoke("rotate", "--resume", "--retire", *args)
    assert result.exit_code == 0, result.output
    assert "re-wrapped 0 files" in result.output and "retired 1 old keys" in result.output
    only_new = read_key_file(key_file)
    assert only_new.key_ids == (ring.active.key_id,)
    assert _vault(tmp_path, only_new).open("calls/a", "check", "test") == b"recording a"


def test_rotate_refuses_env_keys_without_resume(tmp_path: Path) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    vault = _vault(tmp_path, Keyring(active=old))
    vault.write("a", b"x")
    result = _invoke("rotate", "--vault", str(vault.root), env={ENV_KEY: old.to_base64()})
    assert result.exit_code == 1 and "keys init --stdout" in result.output
    both = f"{new.to_base64()},{old.to_base64()}"
    result = _invoke("rotate", "--resume", "--vault", str(vault.root), env={ENV_KEY: both})
    assert result.exit_code == 0, result.output
    assert vault.header("a").key_id == new.key_id


def test_loose_key_file_is_refused(tmp_path: Path, key_file: Path) -> None:
    os.chmod(key_file, 0o644)
    result = _invoke("list", "--key-file", str(key_file), "--vault", str(tmp_path))
    assert result.exit_code == 1 and "chmod 600" in result.output


def test_retire_keeps_a_key_the_store_s_numbers_need(tmp_path: Path, key_file: Path) -> None:
    import asyncio

    from voicebot.compliance import dnc
    from voicebot.compliance.policy import load_policy
    from voicebot.store import open_store

    first = read_key_file(key_file)
    db = str(tmp_path / "numbers.db")

    async def listed_number() -> None:
        store = await open_store(db, keyring=first)
        try:
            await dnc.add(store, load_policy(), "+8613800138000", None, "t", _NOW)
        finally:
            await store.close()

    asyncio.run(listed_number())
    args = ("--key-file", str(key_file), "--vault", str(tmp_path / "vault"), "--db", db)
    result = _invoke("rotate", "--retire", *args)
    assert result.exit_code == 0, result.output
    assert f"kept {first.active.key_id}: the store's numbers" in result.output
    assert first.active.key_id in read_key_file(key_file).key_ids
