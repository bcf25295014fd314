"""A simulated media layer for the dialer: scripted call endings per contact, no audio.

Real calls take seconds each; a test that runs a week of campaign over a hundred contacts, or
that kills the dialer mid-campaign, needs thousands of dials in seconds. This runner stands in
for transport + call session only (like a fake STT in a speech test): the dialer, the gate, the
store and the clock around it are the real ones, and the hooks it calls (opt-out, callback) are
the dialer's real hooks.

A contact's ``simulate`` column scripts its calls: ``busy;no_answer;completed`` ends the first
call busy, the second unanswered, and every later one completed (the last item repeats).
``callback@2026-11-24T10:00:00+08:00`` asks to be called back at that time; a bare ``callback``
leaves the time to the campaign. Without the column every call is ``completed``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from voicebot.call.session import CallHooks
from voicebot.campaign.results import TimelineEntry
from voicebot.campaign.runner import CallEnd, CallRequest
from voicebot.outcomes import Outcome

COLUMN = "simulate"


class ScriptError(ValueError):
    """A ``simulate`` cell names no outcome."""


def parse_script(cell: str) -> list[tuple[Outcome, str | None]]:
    """``busy;callback@TIME`` -> [(busy, None), (callback, TIME)].

    Raises:
        ScriptError: an item is not an outcome name.
    """
    steps: list[tuple[Outcome, str | None]] = []
    for item in (part.strip() for part in cell.split(";")):
        if not item:
            continue
        name, _, when = item.partition("@")
        try:
            steps.append((Outcome(name.strip()), when.strip() or None))
        except ValueError:
            known = ", ".join(o.value for o in Outcome)
            raise ScriptError(f"{item!r} is not an outcome; expected one of: {known}") from None
    return steps or [(Outcome.COMPLETED, None)]


class SimulatedRunner:
    """Ends each call as the contact's script says, after ``call_seconds`` of real time.

    Args:
        call_seconds: how long each call takes on the event loop (0 for time-travel tests).
        talk_seconds: talk time reported for answered calls.
    """

    def __init__(self, call_seconds: float = 0.0, talk_seconds: float = 30.0) -> None:
        self.call_seconds = call_seconds
        self.talk_seconds = talk_seconds
        self.dialled: dict[str, int] = defaultdict(int)
        """Calls placed per number by this runner (tests compare it with the attempt log)."""

    async def __call__(self, request: CallRequest, hooks: CallHooks) -> CallEnd:
        """Play the contact's next scripted ending."""
        steps = parse_script(request.variables.get(COLUMN, ""))
        index = self.dialled[request.number]
        self.dialled[request.number] += 1
        outcome, when = steps[min(index, len(steps) - 1)]
        if self.call_seconds > 0:
            await asyncio.sleep(self.call_seconds)
        timeline = [TimelineEntry(0.0, "dial", "simulated")]
        if outcome is Outcome.OPTED_OUT:
            await hooks.opt_out()
            timeline.append(TimelineEntry(1.0, "dnc_committed"))
        if outcome is Outcome.CALLBACK and hooks.callback is not None:
            await hooks.callback(when)
            timeline.append(TimelineEntry(1.0, "callback", when or "next slot"))
        talk = self.talk_seconds if outcome.answered else 0.0
        timeline.append(TimelineEntry(talk, "outcome", outcome.value))
        return CallEnd(outcome, talk, "simulated", tuple(timeline))
