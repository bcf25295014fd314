"""``voicebot users``: accounts from the command line, over a real SQLite store, all audited."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from voicebot.cli import cli
from voicebot.store import open_store
from voicebot.store.models import AUDIT_EVENTS
from voicebot.store.users import Role, User, get_user
from voicebot.store.web_sessions import count_sessions, open_session
from voicebot.web.auth import Passwords


def _run(db: Path, *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli, [*args, "--db", str(db)], input=stdin)


def _read(db: Path, name: str) -> tuple[User | None, list[tuple[str, dict[str, Any]]]]:
    async def read() -> tuple[User | None, list[tuple[str, dict[str, Any]]]]:
        store = await open_store(str(db))
        try:
            async with store.engine.connect() as conn:
                user = await get_user(conn, name=name)
                rows = (await conn.execute(select(AUDIT_EVENTS))).all()
        finally:
            await store.close()
        return user, [(r.kind, r.detail) for r in rows]

    return asyncio.run(read())


def test_add_an_admin_prints_the_totp_uri_once_and_audits(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    result = _run(db, "users", "add", "root", "--role", "admin", "--password-stdin",
                  stdin="root passphrase 1\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.count("otpauth://totp/voicebot:root?secret=") == 1
    assert "root passphrase 1" not in result.output
    user, audit = _read(db, "root")
    assert user is not None and user.roles == {Role.ADMIN} and user.totp_secret
    assert Passwords().verify(user.password_hash, "root passphrase 1").ok
    assert audit == [("user_added", {"actor": audit[0][1]["actor"], "user": "root",
                                     "roles": ["admin"]})]  # fmt: skip
    listed = _run(db, "users", "list")
    assert listed.output.split() == ["root", "admin", "totp"]


def test_roles_and_passwd_change_the_account_and_are_audited(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    added = _run(db, "users", "add", "ann", "--role", "agent", "--password-stdin",
                 stdin="ann passphrase 1\n")  # fmt: skip
    assert added.exit_code == 0 and "otpauth" not in added.output
    roles = _run(db, "users", "roles", "ann", "--set", "agent,admin")
    assert roles.exit_code == 0 and "otpauth://totp/" in roles.output  # admin: TOTP created
    passwd = _run(db, "users", "passwd", "ann", "--password-stdin", stdin="ann passphrase 2\n")
    assert passwd.exit_code == 0, passwd.output
    user, audit = _read(db, "ann")
    assert user is not None and user.roles == {Role.AGENT, Role.ADMIN} and user.totp_secret
    assert Passwords().verify(user.password_hash, "ann passphrase 2").ok
    assert [k for k, _ in audit] == ["user_added", "roles_changed", "password_changed"]
    assert audit[1][1]["before"] == ["agent"] and audit[1][1]["after"] == ["admin", "agent"]


def test_bad_input_is_refused_with_the_reason(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    bad_role = _run(db, "users", "add", "x", "--role", "boss", "--password-stdin", stdin="p" * 12)
    assert bad_role.exit_code != 0 and "unknown role 'boss'" in bad_role.output
    assert "admin, designer, agent, auditor" in bad_role.output
    weak = _run(db, "users", "add", "x", "--role", "agent", "--password-stdin", stdin="short\n")
    assert weak.exit_code != 0 and "too short" in weak.output
    ok = _run(db, "users", "add", "x", "--role", "agent", "--password-stdin", stdin="p" * 12)
    assert ok.exit_code == 0
    again = _run(db, "users", "add", "x", "--role", "agent", "--password-stdin", stdin="p" * 12)
    assert again.exit_code != 0 and "already exists" in again.output
    missing = _run(db, "users", "roles", "nobody", "--set", "agent")
    assert missing.exit_code != 0 and "no user named 'nobody'" in missing.output
    bad_name = _run(db, "users", "add", "a b", "--role", "agent", "--password-stdin",
                    stdin="p" * 12)  # fmt: skip
    assert bad_name.exit_code != 0 and "invalid user name" in bad_name.output


def _open_a_session(db: Path, name: str) -> None:
    async def work() -> None:
        store = await open_store(str(db))
        try:
            async with store.write() as conn:
                user = await get_user(conn, name=name)
                assert user is not None
                await open_session(conn, user.id, dt.datetime.now(dt.UTC), dt.timedelta(hours=1))
        finally:
            await store.close()

    asyncio.run(work())


def _sessions(db: Path) -> int:
    async def work() -> int:
        store = await open_store(str(db))
        try:
            return await count_sessions(store)
        finally:
            await store.close()

    return asyncio.run(work())


def test_passwd_roles_and_remove_end_the_users_console_sessions(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    for name in ("root", "ann"):
        role = "admin" if name == "root" else "agent"
        added = _run(db, "users", "add", name, "--role", role, "--password-stdin",
                     stdin=f"{name} passphrase 1\n")  # fmt: skip
        assert added.exit_code == 0, added.output
    _open_a_session(db, "ann")
    _open_a_session(db, "root")
    assert _sessions(db) == 2
    assert (
        _run(db, "users", "passwd", "ann", "--password-stdin", stdin="ann pass 22\n").exit_code == 0
    )
    assert _sessions(db) == 1  # ann's ended; root's goes on
    _open_a_session(db, "ann")
    assert _run(db, "users", "roles", "ann", "--set", "agent").exit_code == 0
    assert _sessions(db) == 2  # the same roles again: no change, nothing ends
    assert _run(db, "users", "roles", "ann", "--set", "agent,auditor").exit_code == 0
    assert _sessions(db) == 1
    _open_a_session(db, "ann")
    last = _run(db, "users", "remove", "root")
    assert last.exit_code != 0 and "last admin" in last.output
    removed = _run(db, "users", "remove", "ann")
    assert removed.exit_code == 0 and "removed ann" in removed.output
    assert _sessions(db) == 1
    user, audit = _read(db, "ann")
    assert user is None
    assert audit[-1] == ("user_removed", {"actor": audit[-1][1]["actor"], "user": "ann",
                                          "roles": ["agent", "auditor"]})  # fmt: skip
    missing = _run(db, "users", "remove", "ann")
    assert missing.exit_code != 0 and "no user named 'ann'" in missing.output
