"""A campaign as a person writes it: which flow, which contacts, how fast, and what to retry.

Read from YAML (``voicebot campaign run FILE``) through the position-aware loader, so a typo
is reported as file:line:col before a single number is dialled.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from voicebot.outcomes import Outcome
from voicebot.purpose import Purpose
from voicebot.yamlsource import SourceError, SourceErrors, load_yaml

_STRICT = ConfigDict(extra="forbid", frozen=True)

RETRYABLE = (Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED)


class Retry(BaseModel):
    """Try again after ``after`` seconds, at most ``max`` more times (always through the gate)."""

    model_config = _STRICT

    after: float = Field(ge=60, le=30 * 86400, description="Seconds before the next try.")
    max: int = Field(ge=0, le=10, description="How many retries at most.")

    @property
    def delay(self) -> timedelta:
        """``after`` as a timedelta."""
        return timedelta(seconds=self.after)


def _default_retries() -> dict[Outcome, Retry]:
    return {
        Outcome.NO_ANSWER: Retry(after=2 * 3600, max=2),
        Outcome.BUSY: Retry(after=15 * 60, max=2),
        Outcome.FAILED: Retry(after=10 * 60, max=1),
    }


class Pacing(BaseModel):
    """How hard the dialer pushes: a ceiling on concurrent calls and on the dial rate."""

    model_config = _STRICT

    max_concurrent: int = Field(default=4, ge=1, le=500, description="Calls at once, at most.")
    calls_per_second: float = Field(
        default=2.0, gt=0, le=100, description="New dials per second, at most."
    )


class Schedule(BaseModel):
    """When the campaign may dial at all (the policy's windows and caps apply on top)."""

    model_config = _STRICT

    start: datetime | None = Field(default=None, description="Not before (ISO 8601 with zone).")
    end: datetime | None = Field(default=None, description="Nothing is dialled from this instant.")

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError("give a time zone, e.g. 2026-11-23T09:00:00+08:00")
        return value


class Callbacks(BaseModel):
    """Callbacks a callee asks for: at the time they name, else after ``default_delay``."""

    model_config = _STRICT

    default_delay: float = Field(
        default=24 * 3600, ge=60, le=30 * 86400, description="Seconds, when no time was named."
    )
    max: int = Field(default=2, ge=0, le=10, description="Callbacks per contact at most.")


class Campaign(BaseModel):
    """One campaign: a flow run over a contact list."""

    model_config = _STRICT

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")] = Field(
        description="Names the campaign in the store: a rerun with the same name resumes it."
    )
    flow: Path = Field(description="The flow file, relative to the campaign file.")
    contacts: Path = Field(description="The contacts CSV, relative to the campaign file.")
    caller_id: Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")] = Field(
        description="The number callees see, in E.164 (+ and country code)."
    )
    default_region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        default=None,
        description="Country (ISO code, e.g. US, CN) of contacts' numbers written without +; "
        "unset: such numbers are refused, never guessed.",
    )
    purpose: Purpose | None = Field(default=None, description="Default: the flow's purpose.")
    transport: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,39}$")] = Field(
        default="loopback",
        description="loopback: simulated personas on this machine; janus: real phones through "
        "the Janus SIP gateway; simulated: no media (tests); or a carrier another installed "
        "package registers (entry points voicebot.campaign_transports, "
        "voicebot.campaign_runners).",
        examples=["loopback", "janus", "simulated"],
    )
    persona_column: str = Field(
        default="persona", description="Loopback: the contacts column naming who answers."
    )
    personas: Path | None = Field(
        default=None,
        description="Loopback: a persona book (relative to the campaign file) instead of the "
        "built-in one.",
    )
    simulated_call_seconds: float = Field(
        default=0.5, ge=0, le=60, description="Simulated transport: how long each call lasts."
    )
    ring_timeout: float = Field(
        default=30, ge=5, le=120, description="Seconds of ringing before no_answer."
    )
    pacing: Pacing = Field(default_factory=Pacing)
    schedule: Schedule = Field(default_factory=Schedule)
    retry: dict[Outcome, Retry] = Field(
        default_factory=_default_retries,
        description="Per outcome (no_answer, busy, failed): {after: seconds, max: retries}.",
    )
    callbacks: Callbacks = Field(default_factory=Callbacks)

    @field_validator("transport")
    @classmethod
    def _installed_transport(cls, value: str) -> str:
        """A carrier some installed package provides (``janus`` is the engine's own)."""
        from voicebot.campaign import carriers

        known = ["janus", *carriers.registered()]
        if value not in known:
            raise ValueError(f"unknown transport {value!r}; installed: {', '.join(known)}")
        return value

    @field_validator("retry")
    @classmethod
    def _only_retryable(cls, value: dict[Outcome, Retry]) -> dict[Outcome, Retry]:
        wrong = [o.value for o in value if o not in RETRYABLE]
        if wrong:
            allowed = ", ".join(o.value for o in RETRYABLE)
            raise ValueError(f"outcomes {wrong} are never retried; retry applies to {allowed}")
        return value


SCHEMA_HINT = "flows/campaign.schema.json"
"""Where a campaign file's fields are described (also the examples' first line)."""

_RETRY_SHAPE = "expected {after: SECONDS (>= 60), max: RETRIES (0-10)}, e.g. {after: 7200, max: 2}"


def _campaign_hint(error: SourceError) -> SourceError:
    """Point at the campaign schema, and say what a retry looks like."""
    message = error.message.replace("flows/flow.schema.json", SCHEMA_HINT)
    if error.field.startswith("retry.") and "valid dictionary" in message:
        message = f"{_RETRY_SHAPE} (got {message.rsplit('(got ', 1)[-1]}"
        if not message.endswith(")"):
            message += ")"
    return replace(error, message=message)


def load_campaign(path: Path) -> Campaign:
    """Load a campaign file; ``flow`` and ``contacts`` are resolved against its folder.

    Raises:
        SourceErrors: with file:line:col for every problem, including missing files.
    """
    document = load_yaml(path)
    try:
        campaign = document.validate(Campaign)
    except SourceErrors as exc:
        raise SourceErrors(_campaign_hint(e) for e in exc.errors) from None
    base = path.resolve().parent
    resolved = campaign.model_copy(
        update={
            "flow": base / campaign.flow,
            "contacts": base / campaign.contacts,
            "personas": base / campaign.personas if campaign.personas else None,
        }
    )
    missing = [
        document.error((key,), f"no such file: {getattr(resolved, key)}")
        for key in ("flow", "contacts", "personas")
        if getattr(resolved, key) is not None and not getattr(resolved, key).is_file()
    ]
    if missing:
        raise SourceErrors(missing)
    return resolved
