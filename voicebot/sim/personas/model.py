"""Personas as a person writes them in YAML: how the phone is answered, then a script.

A persona either never gets to talk (busy, rejects, never answers), is an answering machine
(a greeting, then a beep), or is a person whose script waits, speaks, presses keys and hangs up.
Speech is synthesized offline with a natural voice and band-limited to telephone quality so
the bot hears it through real speech recognition.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

_STRICT = ConfigDict(extra="forbid", frozen=True)

BOT_PAUSE_S = 0.7
"""Silence after bot speech that counts as "the bot stopped talking" for ``wait_for_bot``."""


class Pickup(StrEnum):
    """What happens while the phone rings."""

    ANSWER = "answer"
    BUSY = "busy"
    REJECT = "reject"
    NEVER = "never"


class DtmfMethod(StrEnum):
    """How a persona's key presses travel: tones in the audio, or RFC 4733 events."""

    INBAND = "inband"
    RFC4733 = "rfc4733"


class Step(BaseModel):
    """One line of a persona's script; exactly one key is set.

    - ``wait: 1.5`` seconds;
    - ``wait_for_bot: 1`` waits until the bot has stopped talking that many times (a pause
      of :data:`BOT_PAUSE_S` after its speech: it is listening);
    - ``say: "No thanks"`` speaks (synthesized);
    - ``play: answers/no_thanks.wav`` plays a recording instead (any format and rate FFmpeg
      decodes, mono or stereo; a relative path is relative to the persona book's folder);
    - ``press: "9"`` presses keys;
    - ``hangup: true`` hangs up.
    """

    model_config = _STRICT

    wait: float | None = Field(default=None, ge=0, le=600)
    wait_for_bot: int | None = Field(default=None, ge=1, le=20)
    say: Annotated[str, StringConstraints(min_length=1)] | None = None
    play: Annotated[str, StringConstraints(min_length=1)] | None = None
    press: Annotated[str, StringConstraints(pattern=r"^[0-9*#]+$")] | None = None
    hangup: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        keys = [
            k
            for k in ("wait", "wait_for_bot", "say", "play", "press", "hangup")
            if getattr(self, k) is not None
        ]
        if len(keys) != 1:
            raise ValueError(f"a script step has exactly one key, got {keys or 'none'}")
        return self


class Voicemail(BaseModel):
    """An answering machine: a greeting, then a beep, then it records."""

    model_config = _STRICT

    greeting: Annotated[str, StringConstraints(min_length=1)]
    beep_hz: float = Field(default=1000, ge=300, le=3000)
    beep_ms: int = Field(default=400, ge=100, le=2000)


class Persona(BaseModel):
    """A simulated callee."""

    model_config = _STRICT

    description: str = ""
    pickup: Pickup = Pickup.ANSWER
    ring_seconds: float = Field(
        default=2, ge=0, le=120, description="Seconds of ringing before answer/busy/reject."
    )
    voice: str = Field(default="en-US", description="Locale of the persona's synthesized voice.")
    dtmf: DtmfMethod = DtmfMethod.INBAND
    voicemail: Voicemail | None = None
    script: list[Step] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Persona:
        if self.pickup is not Pickup.ANSWER and (self.script or self.voicemail):
            raise ValueError(
                f"a persona that does not answer ({self.pickup}) has no script or voicemail"
            )
        if self.voicemail is not None and self.script:
            raise ValueError("an answering machine has a voicemail greeting, not a script")
        return self


class PersonaBook(BaseModel):
    """A file of personas by name."""

    model_config = _STRICT

    personas: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], Persona]
