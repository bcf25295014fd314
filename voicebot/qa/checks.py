"""Per-call QA: did this call keep the promises the engine makes? Computed from its event log.

Each rule is one named check that passes, fails, or does not apply, with the times it used as
evidence, so a reviewer can see *why* a call was flagged without replaying it:

- ``disclosure_start``: the first thing said after the answer was the disclosure, and it started
  within 1 s of the answer.
- ``disclosure_heard``: the disclosure played to its end (a caller pressing 9 over it opted out,
  which is what it is for; a caller hanging up over it makes the check not apply).
- ``opt_out_instructions``: the opt-out sentence starts within 2 s after the identity sentence
  ends (times inside the disclosure audio, see :mod:`voicebot.qa.timing`) and was
  played; a "9" over the disclosure counts as the instruction understood.
- ``opt_out_honoured``: after an opt-out request (9, a spoken opt-out, or the action) the
  do-not-call entry was durable before anything else was said, and only the opt-out state's
  goodbye was said after it.
- ``window``: the call, from dial to hang-up, was inside the purpose's calling hours in every
  zone of the callee.
- ``recording_notice``: the disclosure announces the recording and that sentence was played.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from voicebot.compliance.policy import Policy, Window
from voicebot.compliance.zones import parse_callee
from voicebot.eventlog import CallEvent, EventLog, LogEntry
from voicebot.flow.model import OPT_OUT_DIGIT, Flow
from voicebot.purpose import Purpose
from voicebot.qa.timing import DisclosureTiming, Role

DISCLOSURE_START_S = 1.0
"""The disclosure starts at most this long after the answer."""
OPT_OUT_GAP_S = 2.0
"""The opt-out instructions start at most this long after the identity ends."""


class Check(StrEnum):
    """The names of the per-call checks (stable: stored, reported, filtered on)."""

    DISCLOSURE_START = "disclosure_start"
    DISCLOSURE_HEARD = "disclosure_heard"
    OPT_OUT_INSTRUCTIONS = "opt_out_instructions"
    OPT_OUT_HONOURED = "opt_out_honoured"
    WINDOW = "window"
    RECORDING_NOTICE = "recording_notice"


class Status(StrEnum):
    """A check's verdict; only ``fail`` flags the call."""

    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class QaCheck:
    """One rule's verdict, what it saw (``evidence``) and the times it used (seconds)."""

    name: Check
    status: Status
    evidence: str
    times: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "name": self.name.value,
            "status": self.status.value,
            "evidence": self.evidence,
            "times": self.times,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QaCheck:
        """Back from :meth:`as_dict` (as stored)."""
        return cls(Check(data["name"]), Status(data["status"]), data["evidence"], data["times"])


@dataclass(frozen=True)
class QaResult:
    """Every check of one call."""

    checks: tuple[QaCheck, ...]

    @property
    def failures(self) -> tuple[str, ...]:
        """The names of the failed checks, in check order."""
        return tuple(c.name.value for c in self.checks if c.status is Status.FAIL)

    @property
    def passed(self) -> bool:
        """No check failed."""
        return not self.failures

    def check(self, name: Check) -> QaCheck:
        """The verdict of one check."""
        return next(c for c in self.checks if c.name is name)

    def as_list(self) -> list[dict[str, Any]]:
        """JSON-ready checks."""
        return [c.as_dict() for c in self.checks]


@dataclass(frozen=True)
class CallWindow:
    """The calling hours that applied to a call, and the callee's possible zones."""

    window: Window
    zones: tuple[ZoneInfo, ...]

    @classmethod
    def for_call(cls, policy: Policy, purpose: Purpose, number: str) -> CallWindow:
        """The window of ``purpose`` under ``policy`` for ``number``'s zones."""
        return cls(policy.for_purpose(purpose).window, parse_callee(number).zones)


def check_call(
    log: EventLog, flow: Flow, timing: DisclosureTiming | None, window: CallWindow
) -> QaResult:
    """Run every check on one call's log.

    Args:
        log: the call's event log (as :class:`~voicebot.call.session.CallSession` fills it).
        flow: the flow the call ran (its disclosure prompt id and opt-out states).
        timing: the disclosure's sentence times for the voice that spoke the call (from
            :func:`~voicebot.qa.timing.disclosure_timing`); None fails the checks
            that need it rather than guessing.
        window: the calling hours that applied.
    """
    facts = _Facts.of(log, flow.disclosure)
    return QaResult(
        (
            _disclosure_start(facts),
            _disclosure_heard(facts),
            _opt_out_instructions(facts, timing),
            _opt_out_honoured(log, flow),
            _window(log, window),
            _recording_notice(facts, timing),
        )
    )


@dataclass(frozen=True)
class _Facts:
    """What the disclosure checks read from the log."""

    answer: LogEntry | None
    first_prompt: LogEntry | None
    start: LogEntry | None
    end: LogEntry | None
    cut: LogEntry | None
    opt_out_digit: LogEntry | None
    """A "9" pressed while the disclosure played (what cut it)."""
    machine: bool = False
    """Answering-machine detection stopped the call's flow: nobody was there to hear it."""

    @classmethod
    def of(cls, log: EventLog, disclosure: str) -> _Facts:
        answer = log.first(CallEvent.ANSWER)
        first_prompt = log.first(CallEvent.PROMPT_START)
        start = _first_prompt(log, CallEvent.PROMPT_START, disclosure)
        end = _first_prompt(log, CallEvent.PROMPT_END, disclosure)
        cut = _first_prompt(log, CallEvent.PROMPT_INTERRUPTED, disclosure)
        digit = None
        if start is not None and cut is not None:
            digit = next(
                (
                    e
                    for e in log.of(CallEvent.DIGIT)
                    if e.data.get("digit") == OPT_OUT_DIGIT and start.t <= e.t <= cut.t
                ),
                None,
            )
        machine = any(e.data.get("verdict") == "machine" for e in log.of(CallEvent.AMD))
        return cls(answer, first_prompt, start, end, cut, digit, machine)

    @property
    def hung_up(self) -> bool:
        """The disclosure was cut because the line ended (logged as the Hangup event or none)."""
        return self.cut is not None and self.cut.data.get("by") in ("Hangup()", "None")

    @property
    def played_s(self) -> float | None:
        """How much of the disclosure was played, if it was cut."""
        return None if self.cut is None else float(self.cut.data.get("played_ms", 0)) / 1000


_MACHINE = "an answering machine answered: the flow stopped for its beep"


def _first_prompt(log: EventLog, kind: CallEvent, prompt: str) -> LogEntry | None:
    return next((e for e in log.of(kind) if e.data.get("prompt") == prompt), None)


def _disclosure_start(f: _Facts) -> QaCheck:
    name = Check.DISCLOSURE_START
    if f.answer is None:
        return QaCheck(name, Status.NOT_APPLICABLE, "not answered")
    if f.first_prompt is None:
        return QaCheck(name, Status.NOT_APPLICABLE, "nothing was said", {"answer": f.answer.t})
    times = {"answer": f.answer.t, "first_prompt": f.first_prompt.t}
    said = f.first_prompt.data.get("prompt")
    if f.first_prompt.t < f.answer.t:
        return QaCheck(name, Status.FAIL, f"{said!r} was played before the answer", times)
    if f.start is not f.first_prompt:
        return QaCheck(name, Status.FAIL, f"{said!r} was said before the disclosure", times)
    delay = f.first_prompt.t - f.answer.t
    times["delay"] = round(delay, 3)
    if delay > DISCLOSURE_START_S:
        return QaCheck(
            name,
            Status.FAIL,
            f"the disclosure started {delay:.2f} s after the answer (limit {DISCLOSURE_START_S} s)",
            times,
        )
    return QaCheck(
        name, Status.PASS, f"the disclosure started {delay:.2f} s after the answer", times
    )


def _disclosure_heard(f: _Facts) -> QaCheck:
    name = Check.DISCLOSURE_HEARD
    if f.answer is None or f.start is None:
        return QaCheck(
            name,
            Status.NOT_APPLICABLE,
            "no disclosure was due" if f.answer is None else "nothing was said",
        )
    if f.end is not None:
        return QaCheck(name, Status.PASS, "played to the end", {"start": f.start.t, "end": f.end.t})
    if f.cut is None:
        return QaCheck(
            name, Status.FAIL, "the disclosure neither ended nor was cut", {"start": f.start.t}
        )
    times = {"start": f.start.t, "cut": f.cut.t, "played": f.played_s or 0.0}
    if f.opt_out_digit is not None:
        return QaCheck(
            name, Status.PASS, f"the caller pressed {OPT_OUT_DIGIT} over it (opted out)", times
        )
    if f.hung_up:
        return QaCheck(name, Status.NOT_APPLICABLE, "the caller hung up during it", times)
    if f.machine:
        return QaCheck(name, Status.NOT_APPLICABLE, _MACHINE, times)
    return QaCheck(
        name, Status.FAIL, f"cut by {f.cut.data.get('by')} after {times['played']:.2f} s", times
    )


def _opt_out_instructions(f: _Facts, timing: DisclosureTiming | None) -> QaCheck:
    name = Check.OPT_OUT_INSTRUCTIONS
    if timing is None:
        return QaCheck(
            name, Status.FAIL, "no disclosure timing was given: cannot prove the 2 s rule"
        )
    identity, opt_out = timing.first(Role.IDENTITY), timing.first(Role.OPT_OUT)
    if identity is None or opt_out is None:
        missing = "identity" if identity is None else "opt-out instructions"
        return QaCheck(name, Status.FAIL, f"the disclosure has no {missing} sentence")
    gap = opt_out.start_s - identity.end_s
    times = {"identity_end": identity.end_s, "opt_out_start": opt_out.start_s, "gap": round(gap, 3)}
    if gap > OPT_OUT_GAP_S:
        return QaCheck(
            name,
            Status.FAIL,
            f"opt-out starts {gap:.2f} s after the identity (limit {OPT_OUT_GAP_S} s)",
            times,
        )
    if f.answer is None or f.start is None:
        return QaCheck(name, Status.NOT_APPLICABLE, "no disclosure was played", times)
    if f.end is not None:
        return QaCheck(name, Status.PASS, f"opt-out {gap:.2f} s after the identity, played", times)
    played = f.played_s or 0.0
    times["played"] = played
    if f.opt_out_digit is not None:
        return QaCheck(name, Status.PASS, f"the caller pressed {OPT_OUT_DIGIT}: understood", times)
    if played >= opt_out.end_s:
        return QaCheck(name, Status.PASS, f"opt-out {gap:.2f} s after the identity, played", times)
    if f.hung_up:
        return QaCheck(
            name, Status.NOT_APPLICABLE, "the caller hung up before the instructions ended", times
        )
    if f.machine:
        return QaCheck(name, Status.NOT_APPLICABLE, _MACHINE, times)
    return QaCheck(
        name,
        Status.FAIL,
        f"the disclosure stopped at {played:.2f} s, before the instructions ended",
        times,
    )


def _opt_out_honoured(log: EventLog, flow: Flow) -> QaCheck:
    name = Check.OPT_OUT_HONOURED
    opt_out_states = {n for n, state in flow.states.items() if any(a.opt_out for a in state.do)}
    # The request: a 9, a spoken opt-out, or (for a flow's own "unsubscribe" path) the
    # transition into an opt-out state; the action entry itself is logged after the commit,
    # so it only counts when nothing earlier marks the request.
    requests = [
        e
        for e in log.entries
        if (e.kind is CallEvent.DIGIT and e.data.get("digit") == OPT_OUT_DIGIT)
        or (e.kind is CallEvent.INTENT and e.data.get("intent") == "opt_out")
        or (e.kind is CallEvent.TRANSITION and e.data.get("dest") in opt_out_states)
    ]
    if not requests:
        actions = [e for e in log.of(CallEvent.ACTION) if e.data.get("action") == "opt_out"]
        requests = [
            next((d for d in log.of(CallEvent.DNC_COMMITTED) if d.t <= a.t), a) for a in actions
        ]
    if not requests:
        return QaCheck(name, Status.NOT_APPLICABLE, "the caller did not opt out")
    asked = requests[0]
    committed = next((e for e in log.of(CallEvent.DNC_COMMITTED) if e.t >= asked.t), None)
    times = {"request": asked.t}
    if committed is None:
        return QaCheck(
            name,
            Status.FAIL,
            "opt-out requested but the do-not-call entry was never committed",
            times,
        )
    times["dnc_committed"] = committed.t
    said_after = [e for e in log.of(CallEvent.PROMPT_START) if e.t >= asked.t]
    early = [e for e in said_after if e.t < committed.t]
    if early:
        times["said"] = early[0].t
        return QaCheck(
            name,
            Status.FAIL,
            f"{early[0].data.get('prompt')!r} was said before the do-not-call entry",
            times,
        )
    allowed = [p for n in opt_out_states for p in flow.states[n].say]
    extra = [e for e in said_after if e.data.get("prompt") not in allowed]
    repeats = len(said_after) - len({e.data.get("prompt") for e in said_after})
    if extra or repeats:
        wrong = extra[0] if extra else said_after[-1]
        times["said"] = wrong.t
        return QaCheck(
            name, Status.FAIL, f"{wrong.data.get('prompt')!r} was said after the opt-out", times
        )
    goodbye = ", ".join(str(e.data.get("prompt")) for e in said_after) or "nothing"
    return QaCheck(
        name,
        Status.PASS,
        f"do-not-call {committed.t - asked.t:.2f} s after the request, then {goodbye}",
        times,
    )


def _window(log: EventLog, window: CallWindow) -> QaCheck:
    name = Check.WINDOW
    if not window.zones:
        return QaCheck(name, Status.FAIL, "the callee's time zone is unknown")
    dialled = log.first(CallEvent.DIAL)
    first = dialled.t if dialled is not None else 0.0
    last = log.entries[-1].t if log.entries else first
    begin = log.started_at + dt.timedelta(seconds=first)
    end = log.started_at + dt.timedelta(seconds=last)
    hours = f"{window.window.start:%H:%M}-{window.window.end:%H:%M}"
    for zone in window.zones:
        for label, instant in (("dialled", begin), ("ended", end)):
            local = instant.astimezone(zone)
            clock = local.time().replace(tzinfo=None)
            if (
                not window.window.start <= clock < window.window.end
                or local.date() != begin.astimezone(zone).date()
            ):
                return QaCheck(
                    name,
                    Status.FAIL,
                    f"{label} at {local:%Y-%m-%d %H:%M:%S} {zone.key}, outside {hours}",
                    {"dial": first, "end": last},
                )
    local = begin.astimezone(window.zones[0])
    return QaCheck(
        name,
        Status.PASS,
        f"dialled at {local:%H:%M:%S} {window.zones[0].key}, inside {hours}",
        {"dial": first, "end": last},
    )


def _recording_notice(f: _Facts, timing: DisclosureTiming | None) -> QaCheck:
    name = Check.RECORDING_NOTICE
    if timing is None:
        return QaCheck(name, Status.FAIL, "no disclosure timing was given: cannot find the notice")
    notice = timing.first(Role.RECORDING)
    if notice is None:
        return QaCheck(name, Status.FAIL, "the disclosure does not say that the call is recorded")
    times = {"notice_start": notice.start_s, "notice_end": notice.end_s}
    if f.answer is None or f.start is None:
        return QaCheck(name, Status.NOT_APPLICABLE, "no disclosure was played", times)
    if f.end is not None:
        return QaCheck(name, Status.PASS, f"{notice.text!r} played", times)
    played = f.played_s or 0.0
    times["played"] = played
    if played >= notice.end_s:
        return QaCheck(name, Status.PASS, f"{notice.text!r} played before the cut", times)
    if f.opt_out_digit is not None:
        return QaCheck(
            name, Status.NOT_APPLICABLE, "the caller opted out before the notice ended", times
        )
    if f.hung_up:
        return QaCheck(
            name, Status.NOT_APPLICABLE, "the caller hung up before the notice ended", times
        )
    if f.machine:
        return QaCheck(name, Status.NOT_APPLICABLE, _MACHINE, times)
    return QaCheck(
        name,
        Status.FAIL,
        f"the disclosure stopped at {played:.2f} s, before the notice ended",
        times,
    )
