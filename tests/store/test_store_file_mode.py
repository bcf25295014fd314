"""The SQLite store file and its -wal/-shm companions are private to their owner (0600), like
the key file: they hold sealed numbers and the audit log, nothing another local user should read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from voicebot.privacy.vault import Keyring, MasterKey
from voicebot.store import open_store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_store_file_and_its_log_are_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a usual umask: files would be 0644 unless created private
    try:
        db = tmp_path / "data" / "calls.db"
        store = await open_store(str(db), keyring=Keyring(MasterKey.generate()))
        try:
            async with store.write() as conn:
                await conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
            async with store.engine.connect() as conn:
                await conn.execute(text("SELECT count(*) FROM scratch"))
                companions = [db.with_name(db.name + s) for s in ("-wal", "-shm")]
                found = {p.name: _mode(p) for p in (db, *companions) if p.exists()}
        finally:
            await store.close()
    finally:
        os.umask(old)
    assert found == {"calls.db": 0o600, "calls.db-wal": 0o600, "calls.db-shm": 0o600}
    assert _mode(db.parent) == 0o700


async def test_an_existing_readable_store_file_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    store = await open_store(str(db), keyring=Keyring(MasterKey.generate()))
    await store.close()
    assert _mode(db) == 0o600
