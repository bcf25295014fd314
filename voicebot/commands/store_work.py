"""One piece of store work from a command: open the store, run the work, close the store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from voicebot.store import Store, open_store, resolve_db_url

T = TypeVar("T")


def run_on_store(
    db: str | None,
    work: Callable[[Store], Awaitable[T]],
    *,
    errors: tuple[type[Exception], ...] = (),
) -> T:
    """Open the store of ``db`` (a ``--db`` value or URL; None: the configured one), await
    ``work(store)``, close the store and return what the work returned.

    An exception of one of ``errors`` becomes a :class:`click.ClickException` with its message;
    any other goes through.
    """

    async def main() -> T:
        store = await open_store(resolve_db_url(db))
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except errors as exc:
        raise click.ClickException(str(exc)) from None
