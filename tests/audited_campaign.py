"""A campaign as the dialer leaves it, for the auditor's views (API and browser): three
contacts, one answered call with its recording, redacted transcript and QA, one unanswered,
one never called."""

from __future__ import annotations

import datetime as dt
import io
import math
import struct
import wave
from pathlib import Path

from tests.web_support import WebFixture
from voicebot.call.archive import VaultRecordingSink, store_transcript
from voicebot.campaign import queue
from voicebot.campaign.contacts import Contact
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.flow.events import TranscriptLine
from voicebot.outcomes import Outcome
from voicebot.purpose import Purpose
from voicebot.qa.checks import Check, QaCheck, QaResult, Status
from voicebot.qa.store import record_qa

CAMPAIGN = "winter"
ANSWERED = "+12025550147"  # reserved test numbers (555-01xx)
UNANSWERED = "+12025550148"
NEVER_CALLED = "+12025550149"
NUMBERS = (ANSWERED, UNANSWERED, NEVER_CALLED)
CARD = "4111 1111 1111 1111"


def _wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A real mono 16-bit WAV: a 440 Hz tone."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


WAV = _wav()


async def seed_campaign(fx: WebFixture, tmp_path: Path) -> tuple[int, int]:
    """A campaign of three contacts as the dialer leaves it: one answered call with its
    recording, redacted transcript and QA; one unanswered; one never called. Returns the
    answered and the unanswered attempt ids."""
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        'purposes:\n  notification:\n    window: {start: "00:00", end: "23:59:59"}\n',
        encoding="utf-8",
    )
    gate = Gate(fx.store, load_policy(policy_file))
    now = fx.clock()
    cid = await queue.ensure_campaign(fx.store, CAMPAIGN, Purpose.NOTIFICATION.value, now)
    contacts = [Contact(n, {"name": f"Contact {i}"}, i + 2) for i, n in enumerate(NUMBERS)]
    await queue.seed(fx.store, cid, contacts, now, now)
    entries = {e.number: e for e in await queue.load(fx.store, cid)}
    ids = []
    for number, outcome, talk in ((ANSWERED, Outcome.COMPLETED, 12.5),
                                  (UNANSWERED, Outcome.NO_ANSWER, 0.0)):  # fmt: skip
        decision = await gate.check_and_reserve(number, CAMPAIGN, Purpose.NOTIFICATION, now)
        assert decision.allowed and decision.attempt_id is not None, decision.reasons
        ended = now + dt.timedelta(seconds=20)
        await gate.record_outcome(decision.attempt_id, outcome, talk, ended)
        entry = entries[number]
        entry.status, entry.attempt_id = queue.DONE, decision.attempt_id
        entry.last_outcome = outcome.value
        await queue.save(fx.store, entry, now)
        ids.append(decision.attempt_id)
    answered, unanswered = ids
    VaultRecordingSink(fx.vault, answered).store("ignored", WAV)
    store_transcript(
        fx.vault, answered,
        [TranscriptLine("bot", "This call is recorded. Press 9 to opt out."),
         TranscriptLine("caller", f"My card is {CARD}, call me back on {ANSWERED}")],
        "en-US",
    )  # fmt: skip
    await record_qa(
        fx.store, answered,
        QaResult((QaCheck(Check.DISCLOSURE_START, Status.PASS, "disclosure at 0.4 s"),
                  QaCheck(Check.OPT_OUT_INSTRUCTIONS, Status.FAIL, "never said"))),
        at=now,
    )  # fmt: skip
    return answered, unanswered
