"""The offer an agent sees for a call the bot hands over: built from what the call knows, with
every text redacted (card and ID numbers, accounts, emails) before it leaves the call."""

from __future__ import annotations

import datetime as dt

from voicebot.call.transfer import TransferAsk
from voicebot.handoff.queue import HandoffOffer
from voicebot.privacy.redact import redact

SUMMARY_LINES = 3
"""How many of the caller's last lines make the summary."""


def offer_for(
    ask: TransferAsk,
    *,
    offer_id: str,
    number: str,
    locale: str,
    created_at: dt.datetime,
    campaign: str | None = None,
    contact: str | None = None,
) -> HandoffOffer:
    """The queue entry for ``ask``: context redacted, the number still whole (the desk masks
    it for agents)."""
    context = ask.context

    def clean(text: str) -> str:
        return redact(text, locale).text

    transcript = tuple((line.who, clean(line.text)) for line in context.transcript)
    said = [text for speaker, text in transcript if speaker != "bot"]
    summary = " / ".join(said[-SUMMARY_LINES:])
    return HandoffOffer(
        id=offer_id,
        number=number,
        flow=context.flow,
        queue=ask.handoff.queue,
        reason=_reason(ask, said),
        created_at=created_at,
        campaign=campaign,
        summary=summary,
        context={str(k): clean(str(v)) for k, v in context.variables.items()},
        contact=contact,
        intent=ask.intent,
        transcript=transcript,
    )


def _reason(ask: TransferAsk, said: list[str]) -> str:
    why = f"the caller was heard as {ask.intent!r}" if ask.intent else "the flow asked for a person"
    last = f', last said "{said[-1]}"' if said else ""
    return f"{why} in state {ask.context.state!r}{last}"
