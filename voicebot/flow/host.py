"""The contract between the flow runner and whoever does a call's I/O.

A :class:`FlowHost` talks and listens; the :class:`~voicebot.flow.runner.FlowRunner` decides.
The live call session (audio, ASR, DTMF) and the text simulator are both hosts, so this small
surface is all a new kind of call (a browser, a SIP phone) has to provide.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from voicebot.flow.events import CallerEvent, TranscriptLine
from voicebot.flow.model import Handoff
from voicebot.outcomes import Outcome


class BargeIn(StrEnum):
    """Which caller events may interrupt a prompt. A hangup always ends it."""

    ANY = "any"
    """Any digit or words stop the prompt."""
    OPT_OUT_ONLY = "opt_out_only"
    """Only the opt-out digit stops it (the disclosure must be heard)."""


@dataclass(frozen=True)
class ListenSpec:
    """What the host listens for after a state's prompts."""

    state: str
    timeout: float
    """Seconds of silence after which the host returns :class:`NoInput`."""
    dtmf: str
    """Digits the state has a route for (others still reach the runner, as ``no_match``)."""
    intents: tuple[str, ...]
    """Intents the state can hear (a hint for ASR biasing; the runner classifies)."""
    attempt: int
    """0 for the first listen, then 1.. for each retry."""


@dataclass(frozen=True)
class HandoffContext:
    """What the agent's screen and whisper need about the call so far."""

    flow: str
    state: str
    variables: Mapping[str, object]
    transcript: tuple[TranscriptLine, ...]
    whisper: str | None
    """The handoff's whisper prompt, rendered: what the agent hears before connecting."""
    hold: str | None
    """The handoff's hold prompt, rendered; the runner has said it once already, the host
    may repeat it while the caller waits."""


class FlowHost(Protocol):
    """The I/O of one call, as the runner needs it. Every method may take real time."""

    async def say(self, prompt_id: str, text: str, *, barge_in: BargeIn) -> CallerEvent | None:
        """Say ``text``; return the caller event that interrupted it (per ``barge_in``; a
        :class:`Hangup` always does), or None when it was said to the end."""
        ...

    async def listen(self, spec: ListenSpec) -> CallerEvent:
        """Wait for the caller: a digit, words, :class:`NoInput` after ``spec.timeout``, or a
        hangup."""
        ...

    async def opt_out(self) -> None:
        """Put the number on the do-not-call list; return only once that is durable."""
        ...

    async def handoff(self, handoff: Handoff, context: HandoffContext) -> bool:
        """Transfer the caller to ``handoff.queue``; True once an agent accepted."""
        ...

    async def callback(self, when: str | None) -> None:
        """Ask the dialer to call back (``when`` as the caller said it; None: next slot)."""
        ...

    async def hangup(self) -> None:
        """End the call from the bot's side."""
        ...


class IntentResult(Protocol):
    """What an :data:`IntentReader` returns (``voicebot.speech.intent.IntentMatch``)."""

    @property
    def intent(self) -> str | None: ...

    @property
    def score(self) -> float: ...


IntentReader = Callable[[str, str, Collection[str] | None], IntentResult]
"""``recognize(text, locale, allowed)``, as :func:`voicebot.speech.intent.recognize`."""


@dataclass(frozen=True)
class FlowResult:
    """How the call's flow ended and what it went through."""

    outcome: Outcome
    reason: str | None
    """Why, when the outcome alone does not say (failures, hangups mid-prompt)."""
    states: tuple[str, ...]
    """States entered, in order (a state entered twice appears twice)."""
    variables: Mapping[str, object]
    """Contact values, ``company`` and everything ``set`` actions stored."""
    transcript: tuple[TranscriptLine, ...]
