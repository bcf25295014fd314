"""Audit entries for what people do, beside the gate's decisions: logins, reveals of a full
number, recording access, exports, policy and flow changes, erasures.

One call per event, appended to the hash-chained audit log in its own write transaction (or in the
caller's, with :func:`record_in`). Numbers are written masked; the full number never is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from voicebot.privacy.audit import write_audit
from voicebot.privacy.masking import mask_number
from voicebot.store.engine import Store

LOGIN = "login"
LOGIN_FAILED = "login_failed"
REVEAL = "reveal"
"""A full number was shown to a person whose role allows it."""
RECORDING_ACCESS = "vault.open"
"""Same action name as :data:`voicebot.privacy.vault.vault.ACTION_OPEN`."""
EXPORT = "export"
POLICY_CHANGE = "policy_change"
FLOW_CHANGE = "flow_change"


async def record(
    store: Store,
    kind: str,
    actor: str,
    *,
    number: str | None = None,
    at: dt.datetime | None = None,
    **detail: Any,
) -> None:
    """Append one event by ``actor``: ``record(store, REVEAL, "alice", number=n, why="call")``."""
    async with store.write() as conn:
        await record_in(conn, kind, actor, number=number, at=at, **detail)


async def record_in(
    conn: AsyncConnection,
    kind: str,
    actor: str,
    *,
    number: str | None = None,
    at: dt.datetime | None = None,
    **detail: Any,
) -> None:
    """:func:`record` inside the caller's write transaction (commits with the change)."""
    if not actor.strip():
        raise ValueError(f"audit event {kind!r} needs a non-empty actor")
    await write_audit(
        conn,
        at=at or dt.datetime.now(dt.UTC),
        kind=kind,
        number_masked=mask_number(number) if number else "",
        policy_version="-",
        detail={"actor": actor, **detail},
    )


def vault_hook(store: Store) -> Any:
    """An async :class:`~voicebot.privacy.vault.AuditHook` that logs every vault read here.

    Use with :meth:`Vault.open_async`; the access is committed before the file is decrypted.
    """

    async def hook(actor: str, action: str, obj: str, purpose: str, /) -> None:
        await record(store, action, actor, object=obj, purpose=purpose)

    return hook
