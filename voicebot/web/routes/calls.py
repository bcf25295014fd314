"""One call's archive for auditors and admins: redacted transcript, recording, QA checklist.

The transcript and the recording live only in the vault; they are decrypted in memory, never
into a file, and only after two audit rows are committed: the console's own
(``transcript_viewed`` / ``recording_accessed``: who, from where, which attempt) and the vault's
(``vault.open``: who, which file, why). A file that was never stored, or that retention or an
erasure removed, is a 404 that says so. The transcript was redacted before it was stored
(cards, IDs, accounts, emails); phone numbers a caller spoke are masked on the way out too.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web

from voicebot.call.archive import read_archived, recording_name, transcript_name
from voicebot.campaign.stored import AttemptOwner, attempt_owner
from voicebot.privacy.masking import mask_text
from voicebot.privacy.vault.vault import Vault
from voicebot.qa.store import load_qa
from voicebot.web.context import audit, error, user_of
from voicebot.web.inputs import Id, Params, path_params
from voicebot.web.keys import STORE, VAULT

PURPOSE = "audit review"
"""The purpose the vault records for reads made from the console."""


class _Refusal(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


class AttemptPath(Params):
    """A call is named by its attempt's id."""

    attempt: Id


async def _owner(request: web.Request) -> AttemptOwner:
    attempt = path_params(request, AttemptPath).attempt
    owner = await attempt_owner(request.app[STORE], attempt)
    if owner is None:
        raise _Refusal(error(404, "not_found", f"no attempt {attempt}"))
    return owner


def _vault(request: web.Request) -> Vault:
    vault = request.app[VAULT]
    if vault is None:
        raise _Refusal(
            error(503, "no_vault", "no master key is configured, so no recording can be read")
        )
    return vault


def _absent(what: str, attempt: int) -> web.Response:
    return error(
        404,
        "not_found",
        f"attempt {attempt} has no {what}: it was never stored (unanswered call, or no master "
        "key at the time) or was removed by retention or an erasure",
    )


async def _read_archive(
    request: web.Request, what: str, name_of: Callable[[int], str], event: str
) -> tuple[AttemptOwner, bytes] | web.Response:
    """One archived file of a call, decrypted in memory through the audited vault path, after
    the console's own audit row (``event``: who, from where, which attempt)."""
    try:
        owner = await _owner(request)
        vault = _vault(request)
    except _Refusal as refusal:
        return refusal.response
    name = name_of(owner.attempt_id)
    if not vault.exists(name):
        return _absent(what, owner.attempt_id)
    actor = user_of(request).name
    await audit(
        request, event, actor=actor, number_masked=owner.number_masked,
        attempt_id=owner.attempt_id, attempt=owner.attempt_id, campaign=owner.campaign,
    )  # fmt: skip
    plain = await read_archived(vault, name, PURPOSE, actor)
    if plain is None:
        return _absent(what, owner.attempt_id)
    return owner, plain


async def get_call_transcript(request: web.Request) -> web.Response:
    """The call's redacted transcript (decrypted through the audited vault path)."""
    read = await _read_archive(request, "transcript", transcript_name, "transcript_viewed")
    if isinstance(read, web.Response):
        return read
    owner, plain = read
    return web.json_response(
        {
            "attempt": owner.attempt_id,
            "campaign": owner.campaign,
            "number": owner.number_masked,
            "lines": [
                {"who": line["who"], "text": mask_text(line["text"])} for line in json.loads(plain)
            ],
        }
    )


async def get_call_recording(request: web.Request) -> web.Response:
    """The call's recording as WAV, decrypted in memory (audited as ``recording_accessed``)."""
    read = await _read_archive(request, "recording", recording_name, "recording_accessed")
    if isinstance(read, web.Response):
        return read
    owner, wav = read
    return web.Response(
        body=wav,
        content_type="audio/wav",
        headers={"Content-Disposition": f'inline; filename="attempt-{owner.attempt_id}.wav"'},
    )


async def get_call_qa(request: web.Request) -> web.Response:
    """The call's stored QA checklist: every check, its verdict and evidence (audited)."""
    try:
        owner = await _owner(request)
    except _Refusal as refusal:
        return refusal.response
    stored = await load_qa(request.app[STORE], attempt=owner.attempt_id)
    if not stored:
        return error(404, "not_found", f"attempt {owner.attempt_id} has no QA checklist")
    await audit(
        request, "qa_viewed", actor=user_of(request).name, number_masked=owner.number_masked,
        attempt_id=owner.attempt_id, attempt=owner.attempt_id, campaign=owner.campaign,
    )  # fmt: skip
    qa = stored[0]
    return web.json_response(
        {
            "attempt": qa.attempt_id,
            "campaign": qa.campaign,
            "number": qa.number_masked,
            "checked_at": qa.checked_at.isoformat(),
            "passed": qa.passed,
            "failed": list(qa.result.failures),
            "checks": qa.result.as_list(),
        }
    )
