"""A vault belongs to one store: two stores' attempt 1 never share, swap or replace a recording.

Each store's recordings go to the vault derived from it (beside a SQLite file), the vault names
its owner, and opening it for another store is refused; a second write of one call's file is
refused rather than replacing the first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.campaign_files import approve_flow, one_contact_campaign
from voicebot.call.archive import VaultRecordingSink
from voicebot.cli import cli
from voicebot.privacy.vault import Keyring, MasterKey, Vault, VaultError
from voicebot.privacy.vault.owner import VaultOwnerError, claim
from voicebot.store.identity import store_vault_root


@pytest.fixture
def own_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for kind in ("DATA", "CACHE", "CONFIG"):
        monkeypatch.setenv(f"XDG_{kind}_HOME", str(tmp_path / kind.lower()))
    monkeypatch.delenv("VOICEBOT_VAULT", raising=False)
    return tmp_path


def _call_files(db: Path, attempt_id: int) -> dict[str, bytes]:
    """The stored (encrypted) bytes of one call's files in the store's vault."""
    root = store_vault_root(str(db))
    folder = root / "calls" / str(attempt_id)
    files = {p.name: p.read_bytes() for p in sorted(folder.glob("*.vbv"))}
    assert "recording.wav.vbv" in files, sorted(files)
    vault = Vault(root, _keyring(), lambda *_: None)
    assert vault.open(f"calls/{attempt_id}/recording.wav", "test", "test")[:4] == b"RIFF"
    return files


def _keyring() -> Keyring:
    from voicebot.privacy.vault import load_keyring

    return load_keyring()


@pytest.mark.integration
def test_two_stores_keep_their_own_attempt_1(own_dirs: Path) -> None:
    runner = CliRunner()
    stored: dict[str, dict[str, bytes]] = {}
    for name, number, person in (
        ("alpha", "+12025550111", "Annabel"),
        ("beta", "+12025550122", "Bartholomew"),
    ):
        db = ["--db", str(own_dirs / f"{name}.db")]
        camp = one_contact_campaign(own_dirs / name, name, number, person)
        approve_flow(runner, db)
        ran = runner.invoke(
            cli,
            ["campaign", "run", str(camp), "--until-idle", "--policy",
             str(camp.parent / "policy.yaml"), *db],
        )  # fmt: skip
        assert ran.exit_code == 0, ran.output
        stored[name] = _call_files(own_dirs / f"{name}.db", 1)
    # alpha's call is still there, byte for byte, after beta's attempt 1 was recorded
    assert _call_files(own_dirs / "alpha.db", 1) == stored["alpha"]
    assert _call_files(own_dirs / "beta.db", 1) == stored["beta"] != stored["alpha"]


def test_a_vault_refuses_a_second_store_and_a_second_write(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    claim(root, "a" * 32)
    claim(root, "a" * 32)  # its own store again: fine
    with pytest.raises(VaultOwnerError, match="belongs to another store"):
        claim(root, "b" * 32)
    vault = Vault(root, Keyring(MasterKey.generate()), lambda *_: None)
    sink = VaultRecordingSink(vault, 1)
    sink.store("attempt-1", b"first call")
    with pytest.raises(VaultError, match="already exists"):
        sink.store("attempt-1", b"second call")
    assert vault.open("calls/1/recording.wav", "test", "test") == b"first call"


def test_where_each_store_s_vault_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voicebot.privacy.vault import default_vault_dir
    from voicebot.store.location import default_db_path

    monkeypatch.delenv("VOICEBOT_VAULT", raising=False)
    assert store_vault_root(str(tmp_path / "a.db")) == tmp_path / "a.db.vault"
    assert store_vault_root(f"sqlite:///{tmp_path / 'b.db'}") == tmp_path / "b.db.vault"
    assert store_vault_root(str(default_db_path())) == default_vault_dir()
    pg = store_vault_root("postgresql://postgres@127.0.0.1:5432/calls")
    assert pg.parent.name == "vaults" and pg.name == "pg-127.0.0.1-5432-calls"
    assert store_vault_root("postgresql://postgres@127.0.0.1:5432/other") != pg
    monkeypatch.setenv("VOICEBOT_VAULT", str(tmp_path / "shared"))
    assert store_vault_root(str(tmp_path / "a.db")) == tmp_path / "shared"


def test_a_store_is_refused_another_store_s_vault(
    own_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEBOT_MASTER_KEY", MasterKey.generate().to_base64())
    runner = CliRunner()
    shared = own_dirs / "shared-vault"
    first = runner.invoke(
        cli, ["erase", "+12025550111", "--db", str(own_dirs / "a.db"), "--vault", str(shared)]
    )
    assert first.exit_code == 0, first.output
    second = runner.invoke(
        cli, ["erase", "+12025550111", "--db", str(own_dirs / "b.db"), "--vault", str(shared)]
    )
    assert second.exit_code == 1, second.output
    assert "belongs to another store" in second.output and "Traceback" not in second.output


@pytest.mark.integration
async def test_postgres_stores_get_their_own_vaults(
    pg_url: str, own_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicebot.store import open_store

    keyring = Keyring(MasterKey.generate())
    store = await open_store(pg_url, keyring=keyring)
    try:
        vault = store.vault(keyring, lambda *_: None)
        assert vault.root.parent == own_dirs / "data" / "voicebot" / "vaults"
        assert vault.root.name.startswith("pg-127.0.0.1-5432-voicebot_test_")
        VaultRecordingSink(vault, 1).store("attempt-1", b"postgres store's call")
        monkeypatch.setenv("VOICEBOT_VAULT", str(own_dirs / "shared"))
        store.vault(keyring, lambda *_: None)  # claims the shared vault for this store
    finally:
        await store.close()
    other = await open_store(str(own_dirs / "other.db"), keyring=keyring)
    try:
        with pytest.raises(VaultOwnerError, match="belongs to another store"):
            other.vault(keyring, lambda *_: None)
    finally:
        await other.close()
