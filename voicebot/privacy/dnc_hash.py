"""Erased numbers stay on the do-not-call list as keyed hashes, so they are never called again.

After an erasure nothing may hold the number, yet the gate must still refuse it. A plain hash
would not do: there are few enough phone numbers to hash them all and reverse the list. The
digest is HMAC-SHA256 under a key derived from a master key of the vault keyring (never the key
itself), and each row names the master key it was derived from. The gate hashes a number under
every key of the keyring (the active and the old ones) and looks the digests up.

Retiring a master key makes the digests made under it unmatchable: re-erase those numbers (or keep
the old key in the keyring) before retiring it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import sqlite3

from sqlalchemy import bindparam, exists, select
from sqlalchemy.engine import Connection

from voicebot.privacy.vault.errors import KeyFileError
from voicebot.privacy.vault.keys import ENV_KEY, ENV_KEY_FILE, Keyring, load_keyring
from voicebot.store.models import DNC_ERASED

_CONTEXT = b"voicebot do-not-call digest v1\x00"


class ErasureKeyMissing(RuntimeError):
    """Erased numbers exist but no master key is loaded to recognise them: refuse to decide."""


def digest_keys(keyring: Keyring) -> tuple[tuple[str, bytes], ...]:
    """(master key id, derived HMAC key) for every key of ``keyring``, active first."""
    return tuple(
        (key.key_id, hmac.new(key.secret, _CONTEXT, hashlib.sha256).digest())
        for key in keyring.keys
    )


def digest(hmac_key: bytes, e164: str) -> str:
    """The keyed hash of an E.164 number (hex)."""
    return hmac.new(hmac_key, e164.encode("ascii"), hashlib.sha256).hexdigest()


def current_keys() -> tuple[tuple[str, bytes], ...]:
    """The derived keys of the keyring this process loads (env or key file); () if none."""
    return _cached_keys(os.environ.get(ENV_KEY, ""), os.environ.get(ENV_KEY_FILE, ""))


@functools.lru_cache(maxsize=4)
def _cached_keys(_env_key: str, _env_file: str) -> tuple[tuple[str, bytes], ...]:
    try:
        return digest_keys(load_keyring())
    except KeyFileError:
        return ()


def reset_key_cache() -> None:
    """Forget the loaded keys (after ``voicebot keys`` changed the key file)."""
    _cached_keys.cache_clear()


_ANY = select(exists().select_from(DNC_ERASED))
_MATCH = select(exists().where(DNC_ERASED.c.digest.in_(bindparam("digests", expanding=True))))


def is_erased_sync(conn: Connection, e164: str) -> bool:
    """Whether ``e164`` was erased (and so is on the do-not-call list by its hash).

    Raises:
        ErasureKeyMissing: erased numbers exist but no master key is loaded.
    """
    digests = [digest(k, e164) for _, k in current_keys()]
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):  # the gate's fast path: no SQLAlchemy compile
        if not digests:
            found = driver.execute("SELECT EXISTS (SELECT 1 FROM dnc_erased)").fetchone()[0]
            _refuse_without_key(bool(found))
            return False
        marks = ", ".join("?" * len(digests))
        sql = f"SELECT EXISTS (SELECT 1 FROM dnc_erased WHERE digest IN ({marks}))"
        return bool(driver.execute(sql, digests).fetchone()[0])
    if not digests:
        _refuse_without_key(bool(conn.execute(_ANY).scalar_one()))
        return False
    return bool(conn.execute(_MATCH, {"digests": digests}).scalar_one())


def _refuse_without_key(any_erased: bool) -> None:
    if any_erased:
        raise ErasureKeyMissing(
            "erased numbers are on the do-not-call list as keyed hashes, but no master key is "
            f"loaded to check them: set {ENV_KEY} or create the key file (`voicebot keys init`)"
        )
