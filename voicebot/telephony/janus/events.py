"""What the SIP plugin's events mean for a call: hang-up causes and DTMF carried by SIP INFO.

Kept apart from the transport so the mapping can be read, and tested, on its own.

Hang-up codes (the SIP status of the final response, or 200 for a BYE):

* 486 / 600 → ``busy``; 603 → ``rejected``;
* 480 and 408 → ``no_answer`` (the far network let it ring out); 487 → ``no_answer`` only when our
  own ring timeout sent the CANCEL (otherwise we cancelled on purpose: ``local``);
* a BYE (200) after the answer → ``remote``; everything else → ``failed``.
"""

from __future__ import annotations

import re
from typing import Any

from voicebot.telephony.leg import HangupCause
from voicebot.telephony.sdp import audio_codecs

_BUSY = frozenset({486, 600})
_NO_ANSWER = frozenset({408, 480})
_DIGITS = "0123456789*#"
_SIGNAL = re.compile(r"^\s*Signal\s*=\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_RELAY_EVENTS = {str(code): digit for code, digit in enumerate(_DIGITS)}
"""dtmf-relay also allows event numbers: 10 is ``*`` and 11 is ``#``."""


def hangup_cause(
    code: int, *, answered: bool, ring_timed_out: bool, we_hung_up: bool
) -> HangupCause:
    """The cause of a SIP plugin ``hangup`` event with status ``code``.

    Args:
        code: the event's ``code`` (SIP status; 200 for a BYE either way).
        answered: the call had been answered.
        ring_timed_out: our ring timeout fired and cancelled the call.
        we_hung_up: our side sent the BYE or CANCEL.
    """
    if ring_timed_out and not answered:
        return HangupCause.NO_ANSWER
    if we_hung_up:
        return HangupCause.LOCAL
    if answered:
        return HangupCause.REMOTE if code < 300 else HangupCause.FAILED
    if code in _BUSY:
        return HangupCause.BUSY
    if code == 603:
        return HangupCause.REJECTED
    if code in _NO_ANSWER:
        return HangupCause.NO_ANSWER
    return HangupCause.FAILED


def info_digit(result: dict[str, Any]) -> str | None:
    """The digit a SIP INFO carried, or None if the INFO was not DTMF.

    Understands ``application/dtmf-relay`` (``Signal=9``, or ``Signal=11`` for ``#``) and
    ``application/dtmf`` (the body is the digit itself).
    """
    content_type = str(result.get("type", "")).split(";", 1)[0].strip().lower()
    content = str(result.get("content", ""))
    if content_type == "application/dtmf-relay":
        match = _SIGNAL.search(content)
        if match is None:
            return None
        value = match.group(1)
        return value if value in _DIGITS else _RELAY_EVENTS.get(value)
    if content_type == "application/dtmf":
        value = content.strip()
        return value if len(value) == 1 and value in _DIGITS else _RELAY_EVENTS.get(value)
    return None


def error_text(data: dict[str, Any]) -> str:
    """A plugin error event as one line: ``error 447: Wrong state``."""
    return f"error {data.get('error_code')}: {data.get('error', 'unknown')}"


__all__ = ["audio_codecs", "error_text", "hangup_cause", "info_digit"]
