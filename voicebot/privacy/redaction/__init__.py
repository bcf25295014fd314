"""Transcript redaction: card, ID and bank account numbers and emails, written or spoken.

Public API: :func:`redact` -> :class:`RedactionResult` (text with placeholders, findings).
"""

from voicebot.privacy.redaction.checks import cn_id_check_char, cn_id_valid, luhn_valid
from voicebot.privacy.redaction.redactor import Finding, Kind, RedactionResult, redact

__all__ = [
    "Finding",
    "Kind",
    "RedactionResult",
    "cn_id_check_char",
    "cn_id_valid",
    "luhn_valid",
    "redact",
]
