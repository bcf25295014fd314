"""The compliance policy: when, how often and under which rules a number may be called.

Defaults ship in the package (``default_policy.yaml``); a user file overrides any part of them
(mappings merge key by key, lists and values replace). Both are read through
:mod:`voicebot.yamlsource`, so a mistake is reported as ``file:line:col: field: message`` in the
file that holds it. The policy's version, plus a fingerprint of its effective content, is written
with every audited decision.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Self

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from voicebot.purpose import Purpose
from voicebot.yamlsource import SourceError, SourceErrors, YamlDocument, load_yaml

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "default_policy.yaml"
ENV_VAR = "VOICEBOT_POLICY"
MAX_MIN_GAP_MINUTES = 6 * 24 * 60


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Model):
    """Calling hours in the callee's local time: ``start`` inclusive, ``end`` exclusive."""

    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self


class HolidayRule(_Model):
    """Days without calls: statutory public holidays, weekends, and listed dates."""

    public: bool = False
    weekends: bool = False
    extra_dates: tuple[dt.date, ...] = ()

    @property
    def needs_calendar(self) -> bool:
        """Whether deciding a day needs the country's official calendar."""
        return self.public or self.weekends


class Caps(_Model):
    """At most ``per_day`` calls a local day and ``per_week`` in any 7 local days.

    ``scope: all`` counts calls of every purpose; ``purpose`` only calls of this purpose.
    """

    per_day: int = Field(1, ge=0)
    per_week: int = Field(3, ge=0)
    scope: Literal["all", "purpose"] = "all"


class PurposePolicy(_Model):
    """The rules for one purpose (notification, marketing, survey)."""

    window: Window
    holidays: HolidayRule = HolidayRule()
    caps: Caps = Caps()
    min_gap_minutes: int = Field(0, ge=0, le=MAX_MIN_GAP_MINUTES)


class FreezeRule(_Model):
    """``calls`` calls in one local day rejected or shorter than ``short_seconds`` -> frozen."""

    calls: int = Field(3, ge=1)
    short_seconds: float = Field(15.0, ge=0)
    days: int = Field(30, ge=1)


class RefusalReview(_Model):
    """Spoken refusals go to a person for review; a confirmation freezes the number."""

    enabled: bool = True
    freeze_days: int = Field(30, ge=1)


class DoNotCall(_Model):
    """The scope an opt-out is recorded in."""

    opt_out_scope: Literal["global", "campaign"] = "global"


class YearCalendar(_Model):
    """A country's official days off (and make-up working days) for one year."""

    holidays: tuple[dt.date, ...] = ()
    workdays: tuple[dt.date, ...] = ()


class Policy(_Model):
    """The effective policy: shipped defaults with the user's overrides applied."""

    version: str = Field(min_length=1)
    purposes: dict[Purpose, PurposePolicy]
    freeze: FreezeRule = FreezeRule()
    refusal_review: RefusalReview = RefusalReview()
    do_not_call: DoNotCall = DoNotCall()
    calendars: dict[str, dict[int, YearCalendar]] = {}

    @model_validator(mode="after")
    def _complete(self) -> Self:
        missing = [p.value for p in Purpose if p not in self.purposes]
        if missing:
            raise ValueError(f"purposes: missing rules for {', '.join(missing)}")
        for country, years in self.calendars.items():
            for year, cal in years.items():
                stray = [d for d in (*cal.holidays, *cal.workdays) if d.year != year]
                if stray:
                    raise ValueError(f"calendars.{country}.{year}: {stray[0]} is not in {year}")
        return self

    def for_purpose(self, purpose: Purpose) -> PurposePolicy:
        """The rules of one purpose."""
        return self.purposes[purpose]

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the effective content, so an audit row pins the exact rules."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    @cached_property
    def version_tag(self) -> str:
        """``version+fingerprint``, recorded with every audited decision."""
        return f"{self.version}+{self.fingerprint}"


def user_policy_path(option: Path | str | None = None) -> Path | None:
    """The user's policy file: ``--policy``, else ``$VOICEBOT_POLICY``, else the config dir's.

    Returns None when no user file applies (the config-dir file is optional; the others are not).
    """
    if option:
        return Path(option)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    candidate = Path(platformdirs.user_config_dir("voicebot", appauthor=False)) / "policy.yaml"
    return candidate if candidate.is_file() else None


def load_policy(user_file: Path | str | None = None) -> Policy:
    """The shipped defaults, overridden by ``user_file`` when given.

    Raises:
        SourceErrors: a file cannot be read or is malformed; each error names file:line:col.
    """
    base = load_yaml(DEFAULT_POLICY_FILE)
    docs = [base]
    if user_file is not None:
        user = load_yaml(user_file)
        if user.data is None:
            user.data = {}
        if not isinstance(user.data, dict):
            raise SourceErrors([user.error((), "a policy file is a mapping (see the defaults)")])
        docs.append(user)
    merged = YamlDocument(file=base.file, data=_merge(base.data, docs[1].data if docs[1:] else {}))
    try:
        return Policy.model_validate(merged.data)
    except ValidationError as exc:
        raise SourceErrors(_locate(docs, merged.validation_errors(exc))) from None


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return override


def _locate(docs: list[YamlDocument], errors: list[SourceError]) -> list[SourceError]:
    """Point each error at the file that supplied the offending value (the user's file first)."""
    out = []
    for err in errors:
        path = _path_of(err.field)
        for doc in reversed(docs):
            if _has_prefix(doc, path):
                out.append(doc.error(path, err.message))
                break
        else:
            out.append(docs[-1].error(path, err.message))
    return out


def _path_of(field: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for chunk in field.replace("[", ".[").split("."):
        if not chunk:
            continue
        parts.append(int(chunk[1:-1]) if chunk.startswith("[") else _maybe_int(chunk))
    return tuple(parts)


def _maybe_int(text: str) -> str | int:
    # Calendar years are integer keys in YAML.
    return int(text) if text.isdigit() else text


def _has_prefix(doc: YamlDocument, path: tuple[str | int, ...]) -> bool:
    return any(path[:n] in doc.positions for n in range(len(path), 0, -1))
