"""The do-not-call list: add, remove, import, list. Global entries or scoped to one campaign.

Opt-outs during calls are added by the outcome rules; this module is the way people manage the
list. Imports are all-or-nothing: every row is checked first, and one bad number means nothing
is written and every bad row is reported with its line.

Entries refer to numbers by keyed hash and sealed copy (:mod:`voicebot.privacy.number_keys`);
listing opens the sealed copies. Erased numbers stay on the list as keyed hashes only
(:mod:`voicebot.privacy.dnc_hash`): they are counted, never listed, as their numbers are gone.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from voicebot.compliance.policy import Policy
from voicebot.compliance.rules import add_dnc
from voicebot.compliance.zones import parse_callee
from voicebot.privacy import mask_number
from voicebot.privacy.audit import write_audit
from voicebot.privacy.numbers import InvalidNumber
from voicebot.store.campaigns import find_campaign_id
from voicebot.store.engine import Store
from voicebot.store.models import CAMPAIGNS, DNC_ENTRIES, DNC_ERASED
from voicebot.yamlsource import SourceError, SourceErrors


class UnknownCampaign(LookupError):
    """A campaign scope names no campaign in the store."""


@dataclass(frozen=True)
class DncListing:
    """One do-not-call entry as listed or exported."""

    number: str
    campaign: str | None
    source: str
    created_at: dt.datetime


async def add(
    store: Store, policy: Policy, number: str, campaign: str | None, source: str, now: dt.datetime
) -> bool:
    """Put ``number`` on the list (globally, or for ``campaign``); False if it already was.

    Raises:
        InvalidNumber: nothing is written.
        UnknownCampaign: nothing is written.
    """
    e164 = parse_callee(number).e164
    async with store.write() as conn:
        return await _add(store, conn, policy, e164, campaign, source, now)


async def import_csv(
    store: Store, policy: Policy, path: Path, campaign: str | None, source: str, now: dt.datetime
) -> tuple[int, int]:
    """Add every number of a CSV file (a ``number`` column, or the first column).

    Returns:
        (added, already present).

    Raises:
        SourceErrors: unreadable file or bad rows, each as ``file:line``; nothing is written.
    """
    numbers = read_numbers_csv(path)
    added = 0
    async with store.write() as conn:
        for e164 in numbers:
            added += await _add(store, conn, policy, e164, campaign, source, now)
    return added, len(numbers) - added


async def remove(
    store: Store, policy: Policy, number: str, campaign: str | None, by: str, now: dt.datetime
) -> int:
    """Take ``number`` off the list in one scope; returns how many entries were removed."""
    e164 = parse_callee(number).e164
    async with store.write() as conn:
        await store.lock_number(conn, e164)
        cid = await _campaign(conn, campaign)
        scope = (
            DNC_ENTRIES.c.campaign_id.is_(None) if cid is None else DNC_ENTRIES.c.campaign_id == cid
        )
        mine = DNC_ENTRIES.c.number_hash.in_(store.numbers.lookup(e164))
        result = await conn.execute(delete(DNC_ENTRIES).where(mine, scope))
        if result.rowcount:
            await write_audit(
                conn,
                at=now,
                kind="dnc_remove",
                number_masked=mask_number(e164),
                policy_version=policy.version_tag,
                campaign_id=cid,
                detail={"by": by, "removed": result.rowcount},
            )
        return int(result.rowcount)


async def entries(store: Store, number: str | None = None) -> list[DncListing]:
    """Every entry (or those of one number), oldest first, with the campaign's name."""
    query = (
        select(DNC_ENTRIES, CAMPAIGNS.c.name)
        .outerjoin(CAMPAIGNS, CAMPAIGNS.c.id == DNC_ENTRIES.c.campaign_id)
        .order_by(DNC_ENTRIES.c.id)
    )
    if number is not None:
        digests = store.numbers.lookup(parse_callee(number).e164)
        query = query.where(DNC_ENTRIES.c.number_hash.in_(digests))
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        DncListing(store.numbers.open(r.number_sealed), r.name, r.source, r.created_at)
        for r in rows
    ]


async def erased_count(store: Store) -> int:
    """How many erased numbers are on the list as keyed hashes (never listed: no number left)."""
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(DNC_ERASED))).scalar_one())


NUMBER_COLUMNS = ("number", "phone", "phone_number", "mobile", "tel", "电话", "手机", "手机号")
"""Header names of the number column: the same as a campaign's contacts file, so a contact
list can be imported as it is."""


def read_numbers_csv(path: Path) -> list[str]:
    """The E.164 numbers of a CSV file, or every problem in it as ``file:line``."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceErrors([SourceError(str(path), 1, 1, "", f"cannot read CSV: {exc}")]) from None
    column, start = 0, 0
    first = rows[0][0].strip() if rows and rows[0] else ""
    if first and first[0] != "+" and not first[0].isdigit():  # a header row
        header = [cell.strip().lower() for cell in rows[0]]
        found = [name for name in NUMBER_COLUMNS if name in header]
        if not found:
            expected = ", ".join(f"'{name}'" for name in NUMBER_COLUMNS)
            raise SourceErrors(
                [SourceError(str(path), 1, 1, "", f"expected a number column ({expected}) "
                             "or no header")]
            )  # fmt: skip
        column, start = header.index(found[0]), 1
    numbers: list[str] = []
    errors: list[SourceError] = []
    for index, row in enumerate(rows[start:], start=start + 1):
        if not row or not any(cell.strip() for cell in row):
            continue
        cell = row[column].strip() if column < len(row) else ""
        try:
            numbers.append(parse_callee(cell).e164)
        except InvalidNumber as exc:
            errors.append(SourceError(str(path), index, column + 1, "number", str(exc)))
    if errors:
        raise SourceErrors(errors)
    return numbers


async def _add(
    store: Store,
    conn: AsyncConnection,
    policy: Policy,
    e164: str,
    campaign: str | None,
    source: str,
    now: dt.datetime,
) -> bool:
    await store.lock_number(conn, e164)
    cid = await _campaign(conn, campaign)
    added = await conn.run_sync(add_dnc, store.numbers, e164, cid, source, now)
    if added:
        await write_audit(
            conn,
            at=now,
            kind="dnc_add",
            number_masked=mask_number(e164),
            policy_version=policy.version_tag,
            campaign_id=cid,
            detail={"source": source},
        )
    return added


async def _campaign(conn: AsyncConnection, name: str | None) -> int | None:
    if name is None:
        return None
    cid = await conn.run_sync(find_campaign_id, name)
    if cid is None:
        raise UnknownCampaign(f"no campaign named {name!r} (a campaign exists once it has dialled)")
    return cid
