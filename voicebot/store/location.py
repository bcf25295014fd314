"""Where the store lives: ``--db URL``, else ``$VOICEBOT_DB``, else a file in the user's data dir.

Every command that touches the database resolves its location here, so the rule is the same
everywhere. A bare path is taken as a SQLite file; sync driver names are mapped to the async
drivers the store uses (``sqlite`` -> ``sqlite+aiosqlite``, ``postgresql`` ->
``postgresql+asyncpg``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
import platformdirs
from sqlalchemy.engine import make_url

ENV_VAR = "VOICEBOT_DB"
F = TypeVar("F", bound=Callable[..., object])


def default_db_path() -> Path:
    """The SQLite file used when neither ``--db`` nor ``$VOICEBOT_DB`` is given."""
    return Path(platformdirs.user_data_dir("voicebot", appauthor=False)) / "voicebot.db"


def resolve_db_url(option: str | None = None) -> str:
    """The async database URL from a ``--db`` value, the environment, or the default file.

    Raises:
        ValueError: the URL names a database this store does not support.
    """
    raw = option or os.environ.get(ENV_VAR) or str(default_db_path())
    return normalize_url(raw)


def normalize_url(raw: str) -> str:
    """Turn a path or a URL into an async SQLAlchemy URL this store can open."""
    if "://" not in raw:
        return f"sqlite+aiosqlite:///{Path(raw).expanduser().resolve()}"
    url = make_url(raw)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database {raw!r}: expected a SQLite path/URL or postgresql://")


def db_option(func: F) -> F:
    """The ``--db URL`` click option, shared by every command that opens the store."""
    option = click.option(
        "--db",
        "db",
        metavar="URL",
        default=None,
        help=f"Database URL or SQLite path (default: ${ENV_VAR}, else {default_db_path()}).",
    )
    return option(func)
