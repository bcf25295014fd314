"""Where a finished call's recording and transcript go: encrypted, redacted, named by attempt.

Recordings and transcripts only ever reach the disk through the vault (AES-256-GCM, nothing in
plaintext, no temp files); transcripts are redacted (card and ID numbers, accounts, emails,
also spoken as digits) before they are stored. Files are named ``calls/<attempt id>/...`` so
retention and erasure find every piece of a call. A file is written once: a second write of a
call's file is refused (:class:`~voicebot.privacy.vault.errors.VaultError`), never a replacement
of the first, and the vault itself belongs to one store (:mod:`voicebot.store.identity`), so
another store's attempt of the same id cannot land there. Reading them back goes through
:func:`read_archived`, the vault's audited path: the access is recorded before decryption.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from voicebot.call.recording import RecordingSink
from voicebot.flow.events import TranscriptLine
from voicebot.privacy.erasure import call_prefix
from voicebot.privacy.redact import redact
from voicebot.privacy.vault.errors import VaultError
from voicebot.privacy.vault.vault import Vault


def recording_name(attempt_id: int) -> str:
    """The vault name of an attempt's recording."""
    return call_prefix(attempt_id) + "recording.wav"


def transcript_name(attempt_id: int) -> str:
    """The vault name of an attempt's redacted transcript."""
    return call_prefix(attempt_id) + "transcript.json"


async def read_archived(vault: Vault, name: str, purpose: str, actor: str) -> bytes | None:
    """The plaintext of a call's file, decrypted in memory after the vault audits the read;
    None when it was never stored or is gone (retention, erasure)."""
    if not vault.exists(name):
        return None
    try:
        return await vault.open_async(name, purpose, actor)
    except VaultError:
        if vault.exists(name):  # a damaged file is not an absent one
            raise
        return None  # purged between the check and the read


class VaultRecordingSink(RecordingSink):
    """Stores a call's WAV in the vault as ``calls/<attempt id>/recording.wav``."""

    def __init__(self, vault: Vault, attempt_id: int) -> None:
        self.vault = vault
        self.attempt_id = attempt_id

    def store(self, name: str, wav: bytes) -> str:
        path = recording_name(self.attempt_id)
        self.vault.write(path, wav)
        return f"vault:{path}"


def store_transcript(
    vault: Vault, attempt_id: int, lines: Iterable[TranscriptLine], locale: str
) -> tuple[str, int]:
    """Redact and store a call's transcript; return its vault reference and the redactions."""
    redacted = 0
    document = []
    for line in lines:
        result = redact(line.text, locale)
        redacted += len(result.findings)
        document.append({"who": line.who, "text": result.text})
    path = transcript_name(attempt_id)
    vault.write(path, json.dumps(document, ensure_ascii=False).encode())
    return f"vault:{path}", redacted
