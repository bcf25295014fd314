"""Agents' dispositions: what an agent learnt on a handed-off call feeds the same rules as the
bot's outcomes.

- ``do_not_call``: the caller asked the agent not to be called again -> a do-not-call entry
  (the policy's opt-out scope), as durable as a "9";
- ``wrong_number``: the number is not the contact's -> a global do-not-call entry (a stranger
  must not be called again from a wrong list);
- ``not_interested``: a refusal -> the review queue, like a spoken refusal to the bot;
- ``callback``: the caller wants a call later -> the dialer plans one (``callback_at``);
- ``sale``, ``interested``: nothing to restrict; kept for the report.

Each is stored with the attempt and audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from voicebot.compliance.policy import Policy
from voicebot.compliance.rules import add_dnc, queue_review
from voicebot.privacy import mask_number
from voicebot.privacy.audit import write_audit_sync
from voicebot.privacy.notes import seal_note
from voicebot.privacy.number_keys import ERASED, NumberKeys
from voicebot.store.dispositions import CALL_DISPOSITIONS
from voicebot.store.engine import Store, lock_number_sync
from voicebot.store.models import ATTEMPTS


class Disposition(enum.StrEnum):
    """How an agent closed a call."""

    SALE = "sale"
    INTERESTED = "interested"
    CALLBACK = "callback"
    NOT_INTERESTED = "not_interested"
    DO_NOT_CALL = "do_not_call"
    WRONG_NUMBER = "wrong_number"


@dataclass(frozen=True)
class DispositionEffects:
    """What recording a disposition changed."""

    dnc_added: bool = False
    review_id: int | None = None


class UnknownAttempt(LookupError):
    """The disposition names an attempt the store does not have."""


async def record_disposition(
    store: Store,
    policy: Policy,
    attempt_id: int,
    disposition: Disposition,
    agent: str,
    now: dt.datetime,
    *,
    note: str = "",
    callback_at: dt.datetime | None = None,
) -> DispositionEffects:
    """Keep ``disposition`` for ``attempt_id`` and apply its rule, durably, with its audit row.

    Raises:
        UnknownAttempt: no such attempt; nothing is written.
    """
    disposition = Disposition(disposition)

    keys = store.numbers

    def unit(conn: Connection) -> DispositionEffects:
        row = conn.execute(
            select(ATTEMPTS.c.number_sealed, ATTEMPTS.c.campaign_id).where(
                ATTEMPTS.c.id == attempt_id
            )
        ).first()
        if row is None:
            raise UnknownAttempt(f"no attempt {attempt_id}")
        number, campaign_id = keys.open(row.number_sealed), row.campaign_id
        if number != ERASED:
            lock_number_sync(conn, number)
        conn.execute(
            insert(CALL_DISPOSITIONS).values(
                attempt_id=attempt_id,
                agent=agent,
                disposition=disposition.value,
                note=seal_note(keys, note),
                callback_at=callback_at,
                created_at=now,
            )
        )
        effects = (
            DispositionEffects()  # erased meanwhile: nothing may refer to the number again
            if number == ERASED
            else _apply(
                conn, keys, policy, disposition, number, campaign_id, attempt_id, agent, now
            )
        )
        write_audit_sync(
            conn,
            at=now,
            kind="disposition",
            number_masked=number if number == ERASED else mask_number(number),
            policy_version=policy.version_tag,
            campaign_id=campaign_id,
            attempt_id=attempt_id,
            detail={
                "disposition": disposition.value,
                "agent": agent,
                "dnc_added": effects.dnc_added,
                "review_id": effects.review_id,
                "callback_at": callback_at.isoformat() if callback_at else None,
            },
        )
        return effects

    return await store.serialized(unit)


def _apply(
    conn: Connection,
    keys: NumberKeys,
    policy: Policy,
    disposition: Disposition,
    number: str,
    campaign_id: int | None,
    attempt_id: int,
    agent: str,
    now: dt.datetime,
) -> DispositionEffects:
    if disposition is Disposition.DO_NOT_CALL:
        scope = campaign_id if policy.do_not_call.opt_out_scope == "campaign" else None
        source = f"agent {agent}: do not call (attempt {attempt_id})"
        return DispositionEffects(dnc_added=add_dnc(conn, keys, number, scope, source, now))
    if disposition is Disposition.WRONG_NUMBER:
        source = f"agent {agent}: wrong number (attempt {attempt_id})"
        return DispositionEffects(dnc_added=add_dnc(conn, keys, number, None, source, now))
    if disposition is Disposition.NOT_INTERESTED and policy.refusal_review.enabled:
        return DispositionEffects(review_id=queue_review(conn, keys, number, attempt_id, now))
    return DispositionEffects()


async def dispositions_of(store: Store, attempt_ids: list[int]) -> dict[int, str]:
    """The latest disposition of each attempt that has one (for reports)."""
    if not attempt_ids:
        return {}
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(CALL_DISPOSITIONS.c.attempt_id, CALL_DISPOSITIONS.c.disposition)
            .where(CALL_DISPOSITIONS.c.attempt_id.in_(attempt_ids))
            .order_by(CALL_DISPOSITIONS.c.id)
        )
        return {int(r.attempt_id): str(r.disposition) for r in rows}
