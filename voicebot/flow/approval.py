"""Approved scripts only: a reviewer signs off one version of a flow and of every text it says.

``voicebot flow approve FILE --reviewer NAME`` stores a SHA-256 over a canonical form of the flow
(its parsed YAML: comments, key order and layout do not count, meaning does) and the text of every
prompt the flow can say in its locale. A campaign calls :func:`check_approved` first and refuses
a flow whose hash matches no approval, naming what changed since the last one (the flow file, a
prompt's text, a prompt added or dropped). ``--dev`` runs anyway, and
:func:`record_dev_override` leaves the trace in the audit log. Approvals are audited too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from voicebot.flow.lint import LINT_VERSION
from voicebot.flow.lint.refusal import lint_errors
from voicebot.flow.loader import LoadedFlow
from voicebot.flow.machine import compile_flow
from voicebot.flow.runner import prompts_used
from voicebot.privacy.audit import write_audit
from voicebot.store import Store
from voicebot.store.models import FLOW_APPROVALS
from voicebot.store.users import Role, get_user

log = logging.getLogger(__name__)

FLOW_PART = "flow"
"""The key of the flow file's own hash in :attr:`Fingerprint.parts`."""
PROMPT_PREFIX = "prompt:"
"""Keys of prompt texts in :attr:`Fingerprint.parts` (``prompt:<id>``)."""
LINT_PART = "lint"
"""Key of the stored approval's lint version in its ``parts`` (not part of the hash)."""
REVIEWER_ROLES = frozenset({Role.ADMIN, Role.DESIGNER})
_NO_AUDIT_NUMBER = "-"


class NotApproved(Exception):
    """The flow, as it is now, has no approval; ``changes`` says what differs from the last one."""

    def __init__(self, flow_name: str, changes: tuple[str, ...]) -> None:
        self.flow_name = flow_name
        self.changes = changes
        super().__init__(f"flow {flow_name!r} is not approved: {'; '.join(changes)}")


class UnapprovableFlow(ValueError):
    """The flow cannot be approved as it is (e.g. a prompt has no text in its locale)."""


@dataclass(frozen=True)
class Fingerprint:
    """What an approval covers: one hash per part, and the hash over all of them."""

    flow_name: str
    locale: str
    digest: str
    parts: dict[str, str]


@dataclass(frozen=True)
class Approval:
    """One stored approval."""

    id: int
    flow_name: str
    locale: str
    digest: str
    reviewer: str
    approved_at: dt.datetime


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_flow(loaded: LoadedFlow) -> str:
    """The flow file as canonical JSON (sorted keys, no whitespace): what its hash is over."""
    return json.dumps(
        loaded.document.data,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )


def fingerprint(loaded: LoadedFlow) -> Fingerprint:
    """Hash the flow and every prompt it can say, in its locale.

    Raises:
        UnapprovableFlow: the locale has no prompt file, or a prompt has no text.
    """
    flow = loaded.flow
    if loaded.prompts is None:
        raise UnapprovableFlow(f"{loaded.path}: no prompts for locale {flow.locale}")
    used = dict.fromkeys([flow.disclosure, *prompts_used(compile_flow(flow))])
    missing = [p for p in used if p not in loaded.prompts]
    if missing:
        raise UnapprovableFlow(
            f"{loaded.path}: prompts without text in {flow.locale}: {', '.join(missing)}"
        )
    parts = {FLOW_PART: _sha256(canonical_flow(loaded))}
    for prompt_id in sorted(used):
        parts[PROMPT_PREFIX + prompt_id] = _sha256(loaded.prompts.texts[prompt_id])
    digest = _sha256(json.dumps({"locale": flow.locale, "parts": parts}, sort_keys=True))
    return Fingerprint(loaded.name, flow.locale, digest, parts)


def _approval(row: Any) -> Approval:
    return Approval(row.id, row.flow_name, row.locale, row.flow_hash, row.reviewer, row.approved_at)


def _refuse_lint_errors(loaded: LoadedFlow) -> None:
    errors = lint_errors(loaded)
    if errors:
        lines = "\n".join(f"  {f}" for f in errors)
        raise UnapprovableFlow(
            f"{loaded.path}: {len(errors)} lint error{'' if len(errors) == 1 else 's'} "
            f"(lint {LINT_VERSION}); a flow with lint errors cannot be approved:\n{lines}"
        )


async def require_reviewer(store: Store, name: str) -> str:
    """The reviewer's name, when it is an enabled designer or admin of the console.

    Raises:
        UnapprovableFlow: no such user, disabled, or without either role.
    """
    async with store.engine.connect() as conn:
        user = await get_user(conn, name=name.strip())
    if user is None or user.disabled or not user.roles & REVIEWER_ROLES:
        why = "no such user" if user is None else ("disabled" if user.disabled else "role")
        raise UnapprovableFlow(
            f"reviewer {name.strip()!r} is not an enabled designer or admin ({why}); "
            "add one with `voicebot users add NAME --role designer`"
        )
    return user.name


async def approve(
    store: Store, loaded: LoadedFlow, reviewer: str, *, at: dt.datetime | None = None
) -> Approval:
    """Record that ``reviewer`` approved the flow as it is now (audited in the same commit).

    Raises:
        UnapprovableFlow: the flow has lint errors, or cannot be fingerprinted.
    """
    if not reviewer.strip():
        raise ValueError("a reviewer name is required")
    _refuse_lint_errors(loaded)
    fp = fingerprint(loaded)
    when = at or dt.datetime.now(dt.UTC)
    async with store.write() as conn:
        result = await conn.execute(
            insert(FLOW_APPROVALS)
            .values(
                flow_name=fp.flow_name,
                locale=fp.locale,
                flow_hash=fp.digest,
                parts={**fp.parts, LINT_PART: LINT_VERSION},
                reviewer=reviewer.strip(),
                approved_at=when,
            )
            .returning(FLOW_APPROVALS.c.id)
        )
        approval_id = result.scalar_one()
        await write_audit(
            conn,
            at=when,
            kind="flow_approved",
            number_masked=_NO_AUDIT_NUMBER,
            policy_version=_NO_AUDIT_NUMBER,
            detail={
                "flow": fp.flow_name,
                "locale": fp.locale,
                "hash": fp.digest,
                "reviewer": reviewer.strip(),
                "lint": LINT_VERSION,
            },
        )
    return Approval(approval_id, fp.flow_name, fp.locale, fp.digest, reviewer, when)


async def approvals(store: Store, flow_name: str) -> list[Approval]:
    """Every approval of a flow, newest first."""
    query = (
        select(FLOW_APPROVALS)
        .where(FLOW_APPROVALS.c.flow_name == flow_name)
        .order_by(FLOW_APPROVALS.c.approved_at.desc(), FLOW_APPROVALS.c.id.desc())
    )
    async with store.engine.connect() as conn:
        return [_approval(r) for r in (await conn.execute(query)).all()]


async def check_approved(loaded: LoadedFlow, store: Store) -> Approval:
    """The approval covering the flow exactly as it is now (any approved version counts).

    Raises:
        NotApproved: never approved, or changed since; the message names each change.
        UnapprovableFlow: the flow cannot be fingerprinted (missing prompts).
    """
    now = fingerprint(loaded)
    query = (
        select(FLOW_APPROVALS)
        .where(FLOW_APPROVALS.c.flow_name == now.flow_name)
        .order_by(FLOW_APPROVALS.c.approved_at.desc(), FLOW_APPROVALS.c.id.desc())
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    for row in rows:
        if row.flow_hash == now.digest:
            linted = dict(row.parts or {}).get(LINT_PART, "1")
            if linted != LINT_VERSION and (errors := lint_errors(loaded)):
                raise NotApproved(
                    now.flow_name,
                    tuple(
                        f"lint {LINT_VERSION} finds an error lint {linted} did not when it "
                        f"was approved: {f}"
                        for f in errors
                    ),
                )
            return _approval(row)
    if not rows:
        raise NotApproved(now.flow_name, ("it was never approved",))
    latest = rows[0]
    changes = _changes(dict(latest.parts), now.parts)
    if latest.locale != now.locale:
        changes.insert(0, f"locale {latest.locale} -> {now.locale}")
    stamp = f"{latest.approved_at:%Y-%m-%d %H:%M} UTC by {latest.reviewer}"
    raise NotApproved(now.flow_name, tuple(f"{c} since the approval of {stamp}" for c in changes))


def _changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    out: list[str] = []
    if before.get(FLOW_PART) != after.get(FLOW_PART):
        out.append("the flow file changed")
    for key in sorted(before.keys() | after.keys()):
        if not key.startswith(PROMPT_PREFIX):
            continue
        prompt = key.removeprefix(PROMPT_PREFIX)
        if key not in before:
            out.append(f"prompt {prompt!r} is new")
        elif key not in after:
            out.append(f"prompt {prompt!r} is no longer used")
        elif before[key] != after[key]:
            out.append(f"the text of prompt {prompt!r} changed")
    return out or ["the hash differs"]


async def record_dev_override(
    store: Store,
    loaded: LoadedFlow,
    error: NotApproved,
    *,
    campaign_id: int | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Log and audit that a campaign runs an unapproved flow because of ``--dev``."""
    when = at or dt.datetime.now(dt.UTC)
    log.warning("--dev: running unapproved flow %s (%s)", loaded.name, "; ".join(error.changes))
    async with store.write() as conn:
        await write_audit(
            conn,
            at=when,
            kind="flow_unapproved_dev",
            number_masked=_NO_AUDIT_NUMBER,
            policy_version=_NO_AUDIT_NUMBER,
            campaign_id=campaign_id,
            detail={"flow": loaded.name, "changes": list(error.changes)},
        )
