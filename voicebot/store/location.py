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


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(16) == b"SQLite format 3\x00"


def _check_db(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a ``--db`` this store cannot open before any command runs (one line, exit 2)."""
    if value is None:
        return None
    try:
        url = normalize_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    except Exception as exc:  # sqlalchemy's URL parser: ArgumentError and the like
        raise click.BadParameter(f"{value!r} is not a database URL or path ({exc})") from None
    if url.startswith("sqlite+aiosqlite:///"):
        path = Path(url.removeprefix("sqlite+aiosqlite:///").split("?")[0])
        if str(path) not in ("", ":memory:") and path.is_dir():
            raise click.BadParameter(f"{value!r} is a directory, not a SQLite file")
        if str(path) not in ("", ":memory:") and not path.parent.is_dir():
            raise click.BadParameter(f"{value!r}: folder {str(path.parent)!r} does not exist")
        if path.is_file() and path.stat().st_size and not _is_sqlite(path):
            raise click.BadParameter(f"{value!r} is not a SQLite database file")
    return value


def db_option(func: F) -> F:
    """The ``--db URL`` click option, shared by every command that opens the store."""
    option = click.option(
        "--db",
        "db",
        metavar="URL",
        default=None,
        callback=_check_db,
        help=f"Database URL or SQLite path (default: ${ENV_VAR}, else {default_db_path()}).",
    )
    return option(func)
