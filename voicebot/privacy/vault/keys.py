"""Master keys: where they come from, what they are called, and which one encrypts new files.

Every vault file's data key is wrapped by one master key, named in the file's header by a key id.
The id is derived from the key itself (a keyed hash, never the key), so a key pasted into
``VOICEBOT_MASTER_KEY`` names itself and a mistyped key in a key file is caught at load.

A :class:`Keyring` holds one *active* key (wraps new files) and older keys kept only to read files
not yet rotated. Keys come from a key file that must be private to its owner (mode 0600; any
group or world bit is refused, as ssh refuses a readable private key) or from the environment.

Key file format, one key per line (``#`` starts a comment)::

    active 3f9c1e0a5b7d2c44 <base64 of 32 bytes>
    old    a1b2c3d4e5f60718 <base64 of 32 bytes>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from voicebot.privacy.vault.atomic import atomic_write
from voicebot.privacy.vault.errors import KeyFileError, UnknownKeyError

KEY_BYTES = 32
"""AES-256."""

ENV_KEY = "VOICEBOT_MASTER_KEY"
"""Base64 master key(s), comma-separated, active first: for containers without a key file."""

ENV_KEY_FILE = "VOICEBOT_KEY_FILE"
"""Path of the key file, when not the default."""

_KID_CONTEXT = b"voicebot master key id v1\x00"


def default_key_file() -> Path:
    """Where ``voicebot keys init`` puts the key file unless told otherwise."""
    return platformdirs.user_config_path("voicebot") / "master.keys"


@dataclass(frozen=True)
class MasterKey:
    """A 256-bit key-encryption key and its id. ``repr`` never shows the secret."""

    secret: bytes = field(repr=False)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise KeyFileError(
                f"a master key must be {KEY_BYTES} bytes (AES-256), got {len(self.secret)}"
            )
        object.__setattr__(self, "key_id", key_id_of(self.secret))

    @classmethod
    def generate(cls) -> MasterKey:
        """A fresh random key from the operating system's CSPRNG."""
        return cls(os.urandom(KEY_BYTES))

    @classmethod
    def from_base64(cls, text: str, where: str = "") -> MasterKey:
        """Decode a base64 key, saying where it came from if it is malformed."""
        prefix = f"{where}: " if where else ""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeyFileError(f"{prefix}master key is not valid base64 ({exc})") from None
        if len(raw) != KEY_BYTES:
            raise KeyFileError(
                f"{prefix}master key must decode to {KEY_BYTES} bytes (AES-256), got {len(raw)}"
            )
        return cls(raw)

    def to_base64(self) -> str:
        """The secret as base64, for a key file or ``VOICEBOT_MASTER_KEY``."""
        return base64.b64encode(self.secret).decode("ascii")


def key_id_of(secret: bytes) -> str:
    """16 hex characters naming a key; a one-way hash, so it reveals nothing of the key."""
    return hashlib.sha256(_KID_CONTEXT + secret).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """One active key for new files and older keys for reading files not yet rotated."""

    active: MasterKey
    old: tuple[MasterKey, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        ids = [k.key_id for k in self.keys]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise KeyFileError(f"{self.source or 'keyring'}: key listed twice: {duplicates}")

    @property
    def keys(self) -> tuple[MasterKey, ...]:
        """Every key, active first."""
        return (self.active, *self.old)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id, active first."""
        return tuple(k.key_id for k in self.keys)

    def get(self, key_id: str, where: str = "") -> MasterKey:
        """The key named ``key_id``; :class:`UnknownKeyError` names it if absent."""
        for key in self.keys:
            if key.key_id == key_id:
                return key
        raise UnknownKeyError(key_id, self.key_ids, where)

    def with_active(self, key: MasterKey) -> Keyring:
        """A keyring where ``key`` is active and the current active key becomes old."""
        old = tuple(k for k in self.keys if k.key_id != key.key_id)
        return Keyring(active=key, old=old, source=self.source)

    def without(self, key_ids: set[str]) -> Keyring:
        """A keyring with the named old keys dropped (the active key cannot be dropped)."""
        if self.active.key_id in key_ids:
            raise KeyFileError(f"cannot retire the active key {self.active.key_id}")
        old = tuple(k for k in self.old if k.key_id not in key_ids)
        return Keyring(active=self.active, old=old, source=self.source)


def load_keyring(path: Path | None = None, env: Mapping[str, str] | None = None) -> Keyring:
    """The keyring to use: an explicit key file, else ``VOICEBOT_MASTER_KEY``, else the key file
    at ``VOICEBOT_KEY_FILE`` or the default path.

    Raises:
        KeyFileError: no key anywhere, a malformed key, or a key file others can read.
    """
    env = os.environ if env is None else env
    if path is not None:
        return read_key_file(path)
    if env.get(ENV_KEY, "").strip():
        return keyring_from_env(env[ENV_KEY])
    file = Path(env[ENV_KEY_FILE]) if env.get(ENV_KEY_FILE) else default_key_file()
    if not file.exists():
        raise KeyFileError(
            f"no master key: {file} does not exist and {ENV_KEY} is not set; "
            "create one with `voicebot keys init`"
        )
    return read_key_file(file)


def load_or_create_keyring(env: Mapping[str, str] | None = None) -> tuple[Keyring, bool]:
    """The keyring of :func:`load_keyring`; with no key anywhere, a new key file first.

    The store keeps phone numbers hashed and sealed under the master key, so it needs one from
    its first use: rather than refuse to start, it does what ``voicebot keys init`` would, at the
    same place (``VOICEBOT_KEY_FILE`` or the user config directory, never the data directory).
    Several processes starting at once create one file (the write refuses to overwrite), and a
    key file that exists but is malformed or readable by others is still an error.

    Returns:
        (keyring, whether the key file was created now).
    """
    env = os.environ if env is None else env
    file = Path(env[ENV_KEY_FILE]) if env.get(ENV_KEY_FILE) else default_key_file()
    if env.get(ENV_KEY, "").strip() or file.exists():
        return load_keyring(env=env), False
    try:
        write_key_file(file, Keyring(MasterKey.generate(), source=str(file)))
    except KeyFileError:  # another process created it first
        return read_key_file(file), False
    return read_key_file(file), True


def keyring_from_env(value: str) -> Keyring:
    """Keys from ``VOICEBOT_MASTER_KEY``: base64 keys separated by commas, the active one first."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        raise KeyFileError(f"{ENV_KEY} is empty")
    keys = [MasterKey.from_base64(p, f"{ENV_KEY}[{i}]") for i, p in enumerate(parts)]
    return Keyring(active=keys[0], old=tuple(keys[1:]), source=ENV_KEY)


def check_private(path: Path) -> None:
    """Refuse a key file that is not a regular file or that group or others may access."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyFileError(f"{path}: key file does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"{path}: key file is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"{path}: key file mode is {mode:04o}, group or others may access it; "
            f"run `chmod 600 {path}` (keys readable by others are refused)"
        )


def read_key_file(path: Path) -> Keyring:
    """Parse a key file after checking its permissions.

    Raises:
        KeyFileError: with ``file:line`` for a malformed line, or for a permission problem.
    """
    check_private(path)
    active: list[MasterKey] = []
    old: list[MasterKey] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KeyFileError(
            f"{path}: not a key file (byte {exc.start} is not UTF-8 text; "
            "expected lines `active|old <key id> <base64 key>`)"
        ) from None
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        where = f"{path}:{number}"
        fields = content.split()
        if len(fields) != 3 or fields[0] not in ("active", "old"):
            raise KeyFileError(
                f"{where}: expected `active|old <key id> <base64 key>`, got {len(fields)} fields"
            )
        status, kid, b64 = fields
        key = MasterKey.from_base64(b64, where)
        if key.key_id != kid:
            raise KeyFileError(
                f"{where}: key id {kid!r} does not match its key (which is {key.key_id!r}); "
                "the line was edited or the key is corrupt"
            )
        (active if status == "active" else old).append(key)
    if len(active) != 1:
        raise KeyFileError(f"{path}: expected exactly one `active` key, found {len(active)}")
    return Keyring(active=active[0], old=tuple(old), source=str(path))


def format_key_file(keyring: Keyring) -> str:
    """The key file text for ``keyring``."""
    lines = [
        "# voicebot master keys: secret. Mode 0600, never commit, back up somewhere safe:",
        "# recordings written under a key cannot be read without it.",
        f"active {keyring.active.key_id} {keyring.active.to_base64()}",
    ]
    lines += [f"old    {k.key_id} {k.to_base64()}" for k in keyring.old]
    return "\n".join(lines) + "\n"


def write_key_file(path: Path, keyring: Keyring, *, overwrite: bool = False) -> None:
    """Write the key file atomically, mode 0600 from its first byte.

    A crash leaves either the old keyring or the new one, never half of one.
    """
    try:
        with atomic_write(path, overwrite=overwrite) as handle:
            handle.write(format_key_file(keyring).encode("utf-8"))
    except FileExistsError:
        raise KeyFileError(f"{path}: key file already exists; refusing to overwrite it") from None
