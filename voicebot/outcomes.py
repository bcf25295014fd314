"""The outcome names every part of the engine uses for the end of a call.

One vocabulary, shared by flows (``end: refused``), the compliance rules, the
dialer's retry policy and the reports, so that nothing translates between them.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """How a call ended, from the business's point of view."""

    COMPLETED = "completed"
    """The flow ran to its planned end (message delivered, survey answered)."""
    OPTED_OUT = "opted_out"
    """The callee asked never to be called again (DTMF 9 or spoken)."""
    REFUSED = "refused"
    """The callee said no ("not interested"); goes to the review queue."""
    HANDOFF = "handoff"
    """A human agent took the call."""
    CALLBACK = "callback"
    """The callee asked to be called back later."""
    NO_RESPONSE = "no_response"
    """Answered, but the callee never gave usable input within the retries."""
    HUNG_UP = "hung_up"
    """The callee hung up before the flow ended."""
    VOICEMAIL = "voicemail"
    """An answering machine picked up."""
    NO_ANSWER = "no_answer"
    """Rang until the ring timeout; nobody answered."""
    BUSY = "busy"
    """The line was busy (SIP 486)."""
    REJECTED = "rejected"
    """The callee declined the ringing call (SIP 603)."""
    FAILED = "failed"
    """The call could not be placed or broke for a technical reason."""

    @property
    def answered(self) -> bool:
        """Whether a person or machine picked up, i.e. talk time can be non-zero."""
        return self not in _UNANSWERED


_UNANSWERED = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.REJECTED, Outcome.FAILED})
