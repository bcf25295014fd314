"""The flow language as pydantic models: what a flow designer may write in ``flows/*.yaml``.

The models check shape and types only. Whether a flow is *safe* (disclosure first, opt-out
reachable, no dead ends, prompts present) is the lint's job, so a designer sees every problem
at once instead of the first type error. Cross-references (``next: nowhere``) are reported by
:func:`reference_errors`, which the loader turns into file:line:col messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from voicebot.outcomes import Outcome
from voicebot.purpose import Purpose

DTMF_DIGITS = "0123456789*#"
OPT_OUT_DIGIT = "9"

EVENT_PATTERN = r"^(dtmf\.[0-9*#]|intent\.[a-z][a-z0-9_]*|no_input|no_match|hangup)$"
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

EventKey = Annotated[str, StringConstraints(pattern=EVENT_PATTERN)]
"""An event a state reacts to: ``dtmf.<digit>``, ``intent.<name>``, ``no_input``, ``no_match``,
``hangup``."""
StateName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
PromptId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]*$")]
VariableName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]

_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


LISTEN_TIMEOUT_MIN = 1.0
LISTEN_TIMEOUT_MAX = 120.0
"""Documented bounds of ``listen.timeout`` in seconds: under a second nobody can answer; over
two minutes a call holds a line for nothing. The schema allows (0, 120]; the lint wants these."""


class DisclosureWords(BaseModel):
    """The words that make a disclosure in a locale the lint has no keyword set for."""

    model_config = _STRICT

    recording: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        min_length=1, description="Words of which one says the call is recorded."
    )
    opt_out: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list, description="Ways to name the opt-out digit besides '9'."
    )
    negators: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list, description="Words that, just before a keyword, cancel it."
    )


class Listen(BaseModel):
    """What a state waits for after its prompts, and for how long."""

    model_config = _STRICT

    dtmf: Annotated[str, StringConstraints(pattern=r"^[0-9*#]*$")] = Field(
        default="", description="Digits accepted in this state, e.g. '12' or '12345'."
    )
    intents: list[Annotated[str, StringConstraints(pattern=NAME_PATTERN)]] = Field(
        default_factory=list, description="Speech intents accepted, e.g. [interested, refuse]."
    )
    timeout: float | None = Field(
        default=None, gt=0, le=120, description="Seconds of silence before `no_input`."
    )
    retries: int = Field(
        default=0, ge=0, le=5, description="How often to re-prompt before `no_input`/`no_match`."
    )
    reprompt: list[PromptId] = Field(
        default_factory=list,
        description="Prompts said before a retry; empty means the state's own `say` again.",
    )


class Handoff(BaseModel):
    """Warm transfer to a human agent queue."""

    model_config = _STRICT

    queue: Annotated[str, StringConstraints(min_length=1)]
    timeout: float = Field(default=30, gt=0, le=600, description="Seconds to wait for an agent.")
    whisper: PromptId | None = Field(
        default=None, description="Prompt the agent hears before being connected (a summary)."
    )
    hold: PromptId | None = Field(
        default=None, description="Prompt the caller hears while waiting."
    )
    fallback: StateName | None = Field(
        default=None, description="State to go to when no agent accepts within the timeout."
    )


class Callback(BaseModel):
    """Ask the dialer to call again later (at a time the caller named, or the next allowed)."""

    model_config = _STRICT

    when: str | None = Field(
        default=None,
        description="A time expression or `{variable}` holding one; empty = next slot.",
    )


class Action(BaseModel):
    """One thing a state does on entry, before it speaks. Exactly one key is set.

    Written as a bare word (``opt_out``, ``hangup``, ``callback``) or a one-key mapping
    (``{set: {plan: gold}}``, ``{handoff: {queue: sales, fallback: offer_callback}}``).
    """

    model_config = _STRICT

    opt_out: bool | None = Field(
        default=None, description="Put the number on the do-not-call list, durably, now."
    )
    hangup: bool | None = Field(default=None, description="End the call at once.")
    callback: Callback | None = None
    set: dict[VariableName, str | int | float | bool] | None = Field(
        default=None, description="Set flow variables (kept with the call's results)."
    )
    handoff: Handoff | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_word(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data in ("opt_out", "hangup"):
                return {data: True}
            if data == "callback":
                return {"callback": {}}
            raise ValueError(
                f"unknown action {data!r}; expected opt_out, hangup, callback, "
                "or a mapping with set/handoff/callback"
            )
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        keys = [
            k
            for k in ("opt_out", "hangup", "callback", "set", "handoff")
            if getattr(self, k) is not None
        ]
        if len(keys) != 1:
            raise ValueError(f"an action has exactly one key, got {keys or 'none'}")
        return self

    @property
    def kind(self) -> str:
        """The action's name: opt_out, hangup, callback, set or handoff."""
        for key in ("opt_out", "hangup", "callback", "set", "handoff"):
            if getattr(self, key) is not None:
                return key
        raise AssertionError("validated action without a key")


class State(BaseModel):
    """One step of the conversation: do actions, say prompts, then listen, move on or end."""

    model_config = _STRICT

    description: str | None = None
    do: list[Action] = Field(default_factory=list, description="Actions run on entry, in order.")
    say: list[PromptId] = Field(default_factory=list, description="Prompt ids, said in order.")
    listen: Listen | None = None
    on: dict[EventKey, StateName] = Field(
        default_factory=dict, description="Event -> next state, while listening."
    )
    next: StateName | None = Field(default=None, description="Next state when nothing is heard.")
    end: Outcome | None = Field(default=None, description="End the call with this outcome.")
    sensitive: bool = Field(
        default=False, description="Pause recording in this state (card numbers and the like)."
    )

    @model_validator(mode="after")
    def _one_way_on(self) -> State:
        if self.end is not None and (self.next or self.listen):
            raise ValueError("a state with `end` has no `next` or `listen`")
        if self.next is not None and self.listen is not None:
            raise ValueError("a state either listens (with `on`) or moves on with `next`, not both")
        return self

    @property
    def is_terminal(self) -> bool:
        """Whether the call ends in this state."""
        return self.end is not None or any(a.hangup for a in self.do)


class Flow(BaseModel):
    """A conversation, as a flow designer writes it."""

    model_config = _STRICT

    name: str | None = Field(default=None, description="Defaults to the file name.")
    description: str | None = None
    purpose: Purpose
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2})?$")]
    company: Annotated[str, StringConstraints(min_length=1)]
    disclosure: PromptId = Field(
        default="disclosure",
        description="Prompt id of the identity + recording + opt-out disclosure said first.",
    )
    disclosure_words: DisclosureWords | None = Field(
        default=None,
        description="Keywords of the disclosure for a locale the lint does not know.",
    )
    variables: list[VariableName] = Field(
        default_factory=list, description="Contact columns the prompts use, e.g. [name, amount]."
    )
    start: StateName
    voicemail: StateName | None = Field(
        default=None,
        description="State to run when an answering machine picks up (after its beep); "
        "without one the bot hangs up on machines.",
    )
    handlers: dict[EventKey, StateName] = Field(
        default_factory=dict,
        description="Events handled in every listening state (dtmf.9 must opt out).",
    )
    states: dict[StateName, State]

    def transitions_of(self, name: str) -> dict[str, str]:
        """Event -> target for a state: its own ``on`` over the global handlers."""
        state = self.states[name]
        merged = dict(self.handlers) if state.listen is not None else {}
        merged.update(state.on)
        return merged


def reference_errors(flow: Flow) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Yield (path, message) for every state name that names no state."""
    known = flow.states.keys()

    def check(
        path: tuple[str | int, ...], target: str | None
    ) -> Iterator[tuple[tuple[str | int, ...], str]]:
        if target is not None and target not in known:
            yield path, f"no state named {target!r}; expected one of: {', '.join(sorted(known))}"

    yield from check(("start",), flow.start)
    yield from check(("voicemail",), flow.voicemail)
    for event, target in flow.handlers.items():
        yield from check(("handlers", event), target)
    for name, state in flow.states.items():
        yield from check(("states", name, "next"), state.next)
        for event, target in state.on.items():
            yield from check(("states", name, "on", event), target)
        for i, action in enumerate(state.do):
            if action.handoff is not None:
                yield from check(
                    ("states", name, "do", i, "handoff", "fallback"), action.handoff.fallback
                )


VARIABLE_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""``{name}`` placeholders in prompt text."""
