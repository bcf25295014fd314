"""Files that appear whole or not at all, private from their first byte.

The vault and the key file both replace files in place; a crash must leave either the old
content or the new, never a torn file under the real name. Temporary siblings start with a dot
and end in ``.tmp`` so listings skip them. Only ciphertext or key files pass through here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TMP_SUFFIX = ".tmp"


def temp_sibling(path: Path) -> Path:
    """A fresh hidden name in the same directory (same filesystem, so rename is atomic)."""
    return path.with_name(f".{path.name}.{os.urandom(6).hex()}{TMP_SUFFIX}")


def is_temp(path: Path) -> bool:
    """Whether ``path`` is an unfinished sibling left by :func:`atomic_write`."""
    return path.name.startswith(".") and path.name.endswith(TMP_SUFFIX)


@contextmanager
def atomic_write(path: Path, *, overwrite: bool = True) -> Iterator[BinaryIO]:
    """Write ``path`` through a 0600 temporary sibling, then sync and rename it into place.

    On any exception the temporary file is removed and ``path`` is untouched.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False (checked again at rename
            time with a hard link, so two writers cannot both win).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} already exists")
    tmp = temp_sibling(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if path appeared meanwhile
            tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable: sync the directory entry, not just the file."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
