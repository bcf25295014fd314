"""``from voicebot.privacy.redact import redact``: the name callers reach for first.

The implementation is the :mod:`voicebot.privacy.redaction` package (digit words, check
digits, emails); this module only re-exports its public API.
"""

from voicebot.privacy.redaction import Finding, Kind, RedactionResult, redact

__all__ = ["Finding", "Kind", "RedactionResult", "redact"]
