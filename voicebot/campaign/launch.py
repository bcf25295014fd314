"""Run a campaign file end to end: import contacts, pick the media, dial, collect the results.

Shared by ``voicebot campaign run`` and ``voicebot demo``: both load a :class:`Campaign`, build
the runner its ``transport`` names (real phones through Janus, or one of the transports
:mod:`voicebot.campaign.carriers` was given: loopback calls to simulated callees, or no media),
run the :class:`~voicebot.campaign.dialer.Dialer` on a store and a gate, and turn what
happened into :class:`~voicebot.campaign.results.CampaignResults` (numbers masked unless asked).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from voicebot.campaign import carriers, queue
from voicebot.campaign.clock import Clock
from voicebot.campaign.config import Campaign
from voicebot.campaign.contacts import ImportReport, RejectedRow, read_contacts
from voicebot.campaign.dialer import Dialer, DialerEvent, DialPlan
from voicebot.campaign.lease import CampaignLease
from voicebot.campaign.queue import Entry
from voicebot.campaign.results import CallResult, CampaignResults, TimelineEntry
from voicebot.campaign.runner import CallChecks, CallEnd, CallRunner, SessionRunner
from voicebot.compliance.gate import Gate
from voicebot.flow.lint.refusal import require_clean
from voicebot.flow.loader import LoadedFlow, load_flow
from voicebot.handoff.desk import AgentDesk
from voicebot.outcomes import Outcome
from voicebot.privacy import mask_number
from voicebot.privacy.vault.vault import Vault
from voicebot.purpose import Purpose
from voicebot.qa.timing import flow_disclosure_timing
from voicebot.speech.asr.base import RecognizerUnavailable
from voicebot.telephony.leg import Transport


class TransportUnavailable(RuntimeError):
    """The campaign names a transport this installation cannot use."""


@dataclass
class Prepared:
    """A campaign ready to dial: its flow, contacts, and purpose."""

    campaign: Campaign
    loaded: LoadedFlow
    contacts: ImportReport
    purpose: Purpose

    @property
    def import_problems(self) -> list[str]:
        """Every row not imported (line and reason) and every merged duplicate."""
        source = self.contacts.source
        problems = [
            f"{source}:{r.line}: {mask_number(r.raw_number) if r.raw_number else '(empty)'}: "
            f"{r.reason}"
            for r in self.contacts.rejected
        ]
        problems += [
            f"{source}:{line}: same number as line {first}, merged"
            for line, first in self.contacts.duplicates
        ]
        return problems


def require_flow_variables(report: ImportReport, variables: list[str]) -> ImportReport:
    """Move contacts without a value for every variable the flow declares to the rejected
    rows: a call must never reach a person and then fail for want of their name or amount."""
    kept = []
    for contact in report.contacts:
        missing = [v for v in variables if not contact.variables.get(v, "").strip()]
        if missing:
            report.rejected.append(
                RejectedRow(
                    contact.line,
                    contact.number,
                    f"no value for {', '.join(missing)} (the flow's prompts need it)",
                )
            )
        else:
            kept.append(contact)
    report.contacts = kept
    return report


def prepare(campaign: Campaign) -> Prepared:
    """Load the flow and import the contacts (raises SourceErrors / ContactFileError).

    A flow with lint errors is refused here (``LintRefused``, a SourceErrors), ``--dev`` or not:
    every way a campaign is dialled goes through this function.
    """
    loaded = load_flow(campaign.flow)
    require_clean(loaded)
    contacts = read_contacts(campaign.contacts, campaign.default_region)
    if not carriers.runs_no_flow(campaign.transport):  # a flow's variables come from the rows
        contacts = require_flow_variables(contacts, loaded.flow.variables)
    purpose = campaign.purpose or loaded.flow.purpose
    return Prepared(campaign, loaded, contacts, Purpose(purpose))


@contextlib.asynccontextmanager
async def runner_for(
    prepared: Prepared,
    note: Callable[[str], None] = lambda _: None,
    *,
    gate: Gate | None = None,
    vault: Vault | None = None,
) -> AsyncIterator[CallRunner]:
    """The runner the campaign's ``transport`` names, closed afterwards.

    Args:
        prepared: the campaign.
        note: told once of anything the user should know (e.g. keys-only calls).
        gate: when given, every answered call's QA checklist is computed and stored.
        vault: when given, recordings and redacted transcripts are kept there, encrypted.
    """
    campaign = prepared.campaign
    no_media = carriers.runner_factory(campaign.transport)
    if no_media is not None:
        yield no_media(campaign)
        return
    from voicebot.speech.asr.select import recognizer_for
    from voicebot.speech.tts.select import synthesizer_for

    locale = prepared.loaded.flow.locale
    synthesizer = await synthesizer_for(locale)
    try:
        recognizer = recognizer_for(locale)
    except RecognizerUnavailable as exc:
        recognizer = None
        note(f"{exc}; calls run on keys only (spoken answers are not heard)")
    checks = None
    if gate is not None:
        timing = await flow_disclosure_timing(prepared.loaded, synthesizer)
        checks = CallChecks(gate.store, gate.policy, prepared.purpose, timing)
    transport = await _transport(prepared)
    try:
        yield SessionRunner(
            transport, prepared.loaded, synthesizer, recognizer, vault=vault, checks=checks
        )
    finally:
        await transport.close()


async def _transport(prepared: Prepared) -> Transport:
    """The campaign's carrier: real phones through Janus, or one added to
    :mod:`voicebot.campaign.carriers` (loopback calls to simulated callees)."""
    campaign = prepared.campaign
    if campaign.transport == "janus":
        from voicebot.telephony.janus import JanusConfig, JanusTransport

        try:
            return JanusTransport(JanusConfig.from_env())
        except ValueError as exc:
            raise TransportUnavailable(
                f"the Janus gateway is not configured: {exc} (set VOICEBOT_JANUS_URL, "
                "VOICEBOT_JANUS_TRUNK, VOICEBOT_JANUS_ACCOUNT; see docker/janus/README.md)"
            ) from None
    make = carriers.transport_factory(campaign.transport)
    if make is None:
        known = ", ".join(["janus", *carriers.registered()])
        raise TransportUnavailable(
            f"unknown transport {campaign.transport!r} (installed: {known}; loopback and "
            "simulated come with voicebot: reinstall it if they are missing)"
        )
    return await make(prepared)


@dataclass
class Collector:
    """Keeps what the report needs from the dialer's events (first attempt's timeline, blocks)."""

    ends: dict[str, CallEnd] = field(default_factory=dict)
    dialled_at: dict[str, dt.datetime] = field(default_factory=dict)
    blocks: dict[str, tuple[tuple[str, ...], dt.datetime | None]] = field(default_factory=dict)
    listeners: list[Callable[[DialerEvent], None]] = field(default_factory=list)

    def __call__(self, event: DialerEvent) -> None:
        """Record ``event`` and pass it on."""
        number = event.entry.number
        if event.kind == "dialing":
            self.dialled_at.setdefault(number, event.at)
        elif event.kind == "ended" and event.end is not None:
            self.ends.setdefault(number, event.end)
        elif event.kind == "blocked" and number not in self.ends:
            self.blocks[number] = (event.reasons, event.entry.due_at)
        for listener in self.listeners:
            listener(event)


async def dial(
    prepared: Prepared,
    gate: Gate,
    runner: CallRunner,
    clock: Clock,
    collector: Collector,
    *,
    until_idle: bool = False,
    control: Callable[[Dialer], None] = lambda _: None,
    desk: AgentDesk | None = None,
    note: Callable[[str], None] = lambda _: None,
) -> list[Entry]:
    """Take the campaign's lease, plan the contacts and dial until done.

    Args:
        until_idle: return once nothing is due any more at the start (later retries,
            callbacks and blocked contacts stay planned).
        control: given the dialer before it runs (signal handlers: pause, stop).
        desk: the agents that take handoffs; without one every handoff takes its fallback.
        note: told when the lease is taken over from a process that is gone.

    Raises:
        CampaignBusy: another live process runs this campaign.
    """
    plan = DialPlan.of(prepared.campaign, prepared.purpose, prepared.loaded.flow.locale)
    store = gate.store
    dialer = Dialer(store, gate, plan, runner, clock, collector, desk=desk)
    cid = await queue.ensure_campaign(store, plan.name, plan.purpose.value, clock.now())
    # Held before recovery: it closes attempts left open, which must not be a live neighbour's.
    lease = CampaignLease(store, cid, plan.name, on_lost=dialer.interrupt)
    async with lease.held() as previous:
        if previous is not None:
            note(f"took the campaign over from {previous.describe()} (no longer running)")
        await dialer.prepare(prepared.contacts.contacts)
        control(dialer)
        return await dialer.run(until=clock.now() if until_idle else None)


def results_of(
    prepared: Prepared,
    entries: list[Entry],
    collector: Collector,
    started: dt.datetime,
    finished: dt.datetime,
    *,
    show_numbers: bool = False,
    label_column: str = "name",
) -> CampaignResults:
    """The run as report values; numbers masked unless ``show_numbers``."""
    results = CampaignResults(
        name=prepared.campaign.name,
        flow=prepared.loaded.name,
        purpose=prepared.purpose.value,
        started_at=started,
        finished_at=finished,
        import_problems=prepared.import_problems,
    )
    for entry in entries:
        shown = entry.number if show_numbers else mask_number(entry.number)
        label = entry.fields.get(label_column) or entry.fields.get("name") or f"line {entry.line}"
        end = collector.ends.get(entry.number)
        if end is not None:
            timeline: tuple[TimelineEntry, ...] = end.timeline
            if end.reason:
                timeline += (TimelineEntry(end.talk_seconds, "reason", end.reason),)
            results.calls.append(
                CallResult(
                    shown,
                    label,
                    collector.dialled_at.get(entry.number, started),
                    Outcome(end.outcome),
                    end.talk_seconds,
                    (),
                    None,
                    timeline,
                    end.qa_failures,
                    zone=_zone(entry.number),
                )
            )
            continue
        reasons, not_before = collector.blocks.get(
            entry.number, (tuple(entry.last_reasons) or ("not_yet_due",), entry.due_at)
        )
        results.calls.append(
            CallResult(
                shown, label, started, None, 0.0, reasons, not_before, zone=_zone(entry.number)
            )
        )
    return results


def _zone(number: str) -> str | None:
    """The callee's home zone, for local times in the report."""
    from voicebot.compliance.zones import parse_callee

    zone = parse_callee(number).home_zone
    return zone.key if zone is not None else None
