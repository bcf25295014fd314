"""What happens on a call, as values: the caller's events, and the runner's report of a call.

Caller events (:data:`CallerEvent`) are what a host hands the :class:`~voicebot.flow.runner.
FlowRunner`: a keypad digit, words (with the intent the runner recognized in them), silence
until the listen timeout, a hangup. Report events (:data:`RunEvent`) are what the runner tells
its observer, in order, so a live call can keep a timestamped log and the simulator can print
the conversation. All are frozen: a log entry never changes after the fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from voicebot.flow.model import DTMF_DIGITS, OPT_OUT_DIGIT
from voicebot.outcomes import Outcome


@dataclass(frozen=True)
class Dtmf:
    """A keypad digit the caller pressed (``0-9``, ``*``, ``#``)."""

    digit: str

    def __post_init__(self) -> None:
        if len(self.digit) != 1 or self.digit not in DTMF_DIGITS:
            raise ValueError(f"a DTMF digit is one of {DTMF_DIGITS!r}, got {self.digit!r}")

    @property
    def is_opt_out(self) -> bool:
        """Whether this is the opt-out digit, which works at any moment."""
        return self.digit == OPT_OUT_DIGIT


@dataclass(frozen=True)
class Utterance:
    """Words the caller said (final ASR text), and what the runner recognized in them.

    A host sets ``text``; the runner fills ``intent`` (None: nothing the state can hear)
    and ``score`` when it classifies the words for the current state. A host that had to read
    the words itself (for an opt-out over the disclosure) sets both, and the runner keeps them.
    """

    text: str
    intent: str | None = None
    score: float = 0.0


@dataclass(frozen=True)
class NoInput:
    """The caller stayed silent until the listen timeout."""


@dataclass(frozen=True)
class Hangup:
    """The caller hung up (or the line dropped)."""


CallerEvent = Dtmf | Utterance | NoInput | Hangup
"""Everything a caller can do, as the runner sees it."""


def caller_text(event: CallerEvent) -> str:
    """How a caller event reads in a transcript: the words, ``[dtmf 9]``, ``[silence]``,
    ``[hangup]``."""
    if isinstance(event, Utterance):
        return event.text
    if isinstance(event, Dtmf):
        return f"[dtmf {event.digit}]"
    if isinstance(event, NoInput):
        return "[silence]"
    return "[hangup]"


# ---- the runner's report ------------------------------------------------------------------


@dataclass(frozen=True)
class StateEntered:
    """The call entered ``state`` (its actions and prompts follow).

    ``sensitive`` states (card numbers and the like) are where the recording pauses.
    """

    state: str
    sensitive: bool = False


@dataclass(frozen=True)
class PromptStarted:
    """The bot started saying a prompt, rendered to ``text``."""

    state: str
    prompt_id: str
    text: str


@dataclass(frozen=True)
class PromptEnded:
    """The prompt was said to its end."""

    state: str
    prompt_id: str


@dataclass(frozen=True)
class PromptInterrupted:
    """The caller barged in: the prompt stopped at ``by``."""

    state: str
    prompt_id: str
    by: CallerEvent


@dataclass(frozen=True)
class CallerEventHeard:
    """A caller event reached the runner (while listening or as a barge-in)."""

    state: str
    event: CallerEvent


@dataclass(frozen=True)
class IntentRecognized:
    """Words were classified against the intents ``allowed`` in ``state``."""

    state: str
    text: str
    intent: str | None
    score: float
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class TransitionTaken:
    """``trigger`` moved the call from ``source`` to ``dest`` (None: internal, stayed)."""

    trigger: str
    source: str
    dest: str | None


@dataclass(frozen=True)
class ActionRun:
    """An entry action ran: ``kind`` is opt_out, hangup, callback, set or handoff; ``detail``
    says what it did (the queue and whether an agent accepted, the variables set, ...)."""

    state: str
    kind: str
    detail: str


@dataclass(frozen=True)
class OutcomeReached:
    """The call's flow is over; ``reason`` explains failures and unusual ends."""

    outcome: Outcome
    state: str
    reason: str | None = None


RunEvent = (
    StateEntered
    | PromptStarted
    | PromptEnded
    | PromptInterrupted
    | CallerEventHeard
    | IntentRecognized
    | TransitionTaken
    | ActionRun
    | OutcomeReached
)
"""Everything the runner reports, in the order it happens."""


@dataclass(frozen=True)
class TranscriptLine:
    """One line of the conversation."""

    who: Literal["bot", "caller"]
    text: str
