"""Agents' free-text wrap-up notes: redacted like transcripts, then sealed, never in the clear.

A note is typed by a person in a hurry and can hold anything: the caller's number, a card read
out, an email. Before it is stored it goes through the transcript redaction (cards, ID numbers,
accounts, emails, also as spoken digits), every phone number in it is masked, and what is left
is encrypted under the store's master key (:meth:`NumberKeys.seal_text`). Erasure of a number
empties the notes of its attempts (:mod:`voicebot.privacy.erasure`).
"""

from __future__ import annotations

from voicebot.privacy.masking import mask_text
from voicebot.privacy.number_keys import NumberKeys
from voicebot.privacy.redact import redact

NOTE_LOCALE = "en-US"
"""Redaction locale of notes (Chinese and English digit words are recognised in any locale)."""


def redacted_note(note: str) -> str:
    """``note`` with cards, IDs, accounts and emails redacted and phone numbers masked."""
    return mask_text(redact(note, NOTE_LOCALE).text).strip()


def seal_note(keys: NumberKeys, note: str) -> str:
    """What the ``note`` column stores: the redacted note sealed, or ``""`` for no note."""
    cleaned = redacted_note(note)
    return keys.seal_text(cleaned) if cleaned else ""


def open_note(keys: NumberKeys, stored: str) -> str:
    """The redacted note a ``note`` column holds (``""`` for none or an erased one)."""
    return keys.open_text(stored) if stored else ""
