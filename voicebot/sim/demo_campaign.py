"""``voicebot demo``: a whole campaign against simulated people, in a few minutes, offline.

The demo writes a sample campaign (the English upgrade-offer flow, 20-odd fictional numbers, a
persona per number in a ``persona`` column), dials it over the loopback transport with real
TTS, real speech recognition and the real compliance gate, and checks each persona's outcome
against what it should be: 9-pressers end on the do-not-call list, a number already on it is
skipped, a number where it is night now is blocked by the calling window.

Calling windows are local, so which fictional numbers may be called depends on when the demo
runs: it picks a zone where it is daytime now for the cast and one where it is night for the
"outside window" case, asking the gate itself (what-if checks, nothing reserved).

The demo runs at any hour: when no zone may get a marketing call now (New Year's Day, or a
public holiday wherever it is daytime), it runs a service notice instead (the same cast and
expectations, a ``notification`` flow, whose rules allow public holidays). It never relabels
the marketing call: each flow keeps its own purpose. ``tests/commands/test_demo.py`` scans
every hour of 2026.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from voicebot.compliance.decision import Reason
from voicebot.compliance.gate import Gate
from voicebot.purpose import Purpose

FLOW = Path(__file__).resolve().parents[2] / "flows" / "upgrade_offer.yaml"
NOTICE_FLOW = FLOW.with_name("plan_notice.yaml")
NAME = "demo"
NOTICE = "from January your plan includes 5G at no extra cost"
"""The notice's ``{notice}`` (the notification flow's variable)."""


@dataclass(frozen=True)
class Region:
    """A fictional numbering range (reserved for drama and tests) and how to number within it."""

    label: str
    prefix: str
    first: int
    width: int

    def number(self, i: int) -> str:
        """The ``i``-th fictional number of the range."""
        return f"{self.prefix}{self.first + i:0{self.width}d}"


REGIONS = (
    Region("China (Shanghai time)", "+861380013", 8000, 4),
    Region("UK (London)", "+4420794", 60100, 5),
    Region("US East (New York)", "+1202555", 100, 4),
    Region("US West (Los Angeles)", "+1213555", 100, 4),
    Region("US Hawaii (Honolulu)", "+1808555", 100, 4),
    Region("Australia (Sydney)", "+6125550", 100, 4),
)


@dataclass(frozen=True)
class Role:
    """One demo contact: who answers, and the outcomes that count as right for them."""

    persona: str
    expected: frozenset[str]
    why: str
    handoff: bool = False
    """The call must have offered the caller to an agent (and, with no agent, fallen back)."""


def _role(persona: str, why: str, *expected: str, handoff: bool = False) -> Role:
    return Role(persona, frozenset(expected), why, handoff)


CAST = (
    *[_role("presses_nine", "presses 9 during the disclosure", "opted_out")] * 4,
    *[_role("not_interested", "spoken refusal", "refused")] * 3,
    *[_role("asks_to_stop", "says 'do not call me again'", "opted_out")] * 2,
    *[
        _role(
            "interested",
            "interested: handoff, no agent yet, so the callback offer",
            "callback",
            "completed",
            handoff=True,
        )
    ]
    * 2,
    _role(
        "presses_one",
        "presses 1: handoff, fallback to the callback offer",
        "callback",
        "completed",
        handoff=True,
    ),
    # Answering-machine detection stops the flow; the bot waits for the beep and hangs up
    # (this flow leaves no voicemail message).
    *[_role("voicemail", "answering machine", "voicemail")] * 2,
    *[_role("busy", "line busy", "busy")] * 2,
    *[_role("never_answers", "rings out", "no_answer")] * 2,
    *[_role("hangs_up_early", "hangs up after 5 s", "hung_up")] * 2,
    _role("silent", "answers, says nothing", "no_response"),
    _role("rejects", "declines the call", "rejected"),
)
DNC_ROLE = _role("presses_one", "already on the do-not-call list", "blocked:dnc")
NIGHT_ROLE = _role("presses_one", "where it is night now", "blocked:window")


@dataclass(frozen=True)
class DemoContact:
    """A row of the sample contacts file."""

    number: str
    name: str
    role: Role


Decide = Callable[[str, Purpose, dt.datetime], Awaitable[tuple[Reason, ...]]]
"""Why a call to a number for a purpose would be refused at an instant (empty: allowed)."""


def gate_decide(gate: Gate) -> Decide:
    """The gate's what-if check (nothing reserved) as a :data:`Decide`."""

    async def decide(number: str, purpose: Purpose, now: dt.datetime) -> tuple[Reason, ...]:
        return tuple((await gate.check(number, purpose, now)).reasons)

    return decide


@dataclass(frozen=True)
class DemoPlan:
    """What the demo runs now: which flow (and so which purpose), where the cast lives, and
    where it is night."""

    flow: Path
    purpose: Purpose
    day: Region
    night: Region | None


async def plan_demo(decide: Decide, now: dt.datetime) -> DemoPlan:
    """The marketing demo when a zone allows it now, else the service notice.

    Raises:
        RuntimeError: no zone may be called for either purpose now (a test proves this never
            happens in 2026 under the default policy).
    """
    for flow, purpose in ((FLOW, Purpose.MARKETING), (NOTICE_FLOW, Purpose.NOTIFICATION)):
        day, night = await _pick(decide, now, purpose)
        if day is not None:
            return DemoPlan(flow, purpose, day, night)
    raise RuntimeError("no fictional range is inside its calling window right now")


async def pick_regions(
    gate: Gate, now: dt.datetime, purpose: Purpose = Purpose.MARKETING
) -> tuple[Region, Region | None]:
    """A region where the gate allows a call for ``purpose`` now, and one where it is night.

    Raises:
        RuntimeError: no region may be called now.
    """
    day, night = await _pick(gate_decide(gate), now, purpose)
    if day is None:
        raise RuntimeError("no fictional range is inside its calling window right now")
    return day, night


async def _pick(
    decide: Decide, now: dt.datetime, purpose: Purpose
) -> tuple[Region | None, Region | None]:
    day: Region | None = None
    night: Region | None = None
    for region in REGIONS:
        reasons = await decide(region.number(99), purpose, now)
        local_hour = _local_hour(region, now)
        if not reasons and day is None and 8.5 <= local_hour < 20.0:
            day = region
        elif Reason.WINDOW in reasons and night is None:
            night = region
    return day, night


def _local_hour(region: Region, now: dt.datetime) -> float:
    from voicebot.compliance.zones import parse_callee

    zone = parse_callee(region.number(0)).home_zone
    local = now.astimezone(zone) if zone is not None else now
    return local.hour + local.minute / 60


def cast(
    day: Region, night: Region | None, personas: frozenset[str] | None = None
) -> list[DemoContact]:
    """The sample contacts: the cast in ``day``, the do-not-call one, the night one.

    Args:
        day: where the cast lives.
        night: where the "outside the window" contact lives (None: left out).
        personas: keep only these personas of the cast (default: all).
    """
    names = ["Alex", "Sam", "Robin", "Kim", "Jo", "Lee", "Max", "Pat", "Chris", "Dana"]
    roles = [r for r in CAST if personas is None or r.persona in personas]
    people = [
        DemoContact(day.number(i), names[i % len(names)], role) for i, role in enumerate(roles)
    ]
    people.append(DemoContact(day.number(len(CAST) + 1), "Taylor", DNC_ROLE))
    if night is not None:
        people.append(DemoContact(night.number(0), "Morgan", NIGHT_ROLE))
    return people


def write_sample(directory: Path, people: list[DemoContact], flow: Path = FLOW) -> Path:
    """Write contacts.csv and campaign.yaml into ``directory``; returns the campaign file.

    ``voicebot demo`` writes them to a private scratch folder that it deletes once the contacts
    are imported: the numbers must not stay in the demo's folder in the clear.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rows = ["number,name,offer,notice,persona"]
    for person in people:
        rows.append(f"{person.number},{person.name},double data for the same price,"
                    f"{NOTICE},{person.role.persona}")  # fmt: skip
    (directory / "contacts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    campaign = directory / "campaign.yaml"
    campaign.write_text(
        "# Written by `voicebot demo`: a campaign over fictional numbers (loopback).\n"
        f"name: {NAME}\n"
        f"flow: {flow.as_posix()}\n"
        "contacts: contacts.csv\n"
        'caller_id: "+12025550100"\n'
        "default_region: US\n"
        "transport: loopback\n"
        "ring_timeout: 8\n"
        "pacing: {max_concurrent: 9, calls_per_second: 4}\n",
        encoding="utf-8",
    )
    return campaign


def verdict(role: Role, status: str, reasons: tuple[str, ...], handed_off: bool = False) -> bool:
    """Whether a contact ended as its role should (``handed_off``: the call tried an agent)."""
    if status == "blocked":
        return any(f"blocked:{r}" in role.expected for r in reasons)
    return status in role.expected and (handed_off or not role.handoff)


def expected_text(role: Role) -> str:
    """The role's expected outcomes, for the summary."""
    text = " or ".join(sorted(e.replace("blocked:", "blocked: ") for e in role.expected))
    return f"handoff (no agent) -> {text}" if role.handoff else text
