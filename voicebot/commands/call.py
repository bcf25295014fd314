"""``voicebot call NUMBER``: place one call and watch it happen, event by event.

On the loopback transport the callee is a simulated persona (``--persona``), so a flow can be
heard end to end on one machine: real WebRTC media, real TTS, real speech recognition.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from voicebot.commands.compliance import policy_option
from voicebot.commands.pairs import key_values
from voicebot.eventlog import LogEntry
from voicebot.store import db_option


class MissingContactValues(ValueError):
    """The flow needs contact values the command line did not give: found before dialling,
    because a call that fails after the answer is an abandoned call to a real person."""


def require_contact_values(flow_variables: list[str], values: dict[str, object]) -> None:
    """Raise :class:`MissingContactValues` naming each missing ``--contact KEY=VALUE``."""
    missing = [v for v in flow_variables if not str(values.get(v, "")).strip()]
    if missing:
        hint = " ".join(f"--contact {v}=..." for v in missing)
        raise MissingContactValues(
            f"the flow's prompts need {', '.join(missing)}: add {hint} (nothing was dialled)"
        )


@click.command()
@click.argument("number")
@click.option(
    "--flow",
    "flow_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The flow.",
)
@click.option("--persona", help="Loopback: the simulated callee (see sim/personas/builtin.yaml).")
@click.option(
    "--personas",
    "persona_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A persona book instead of the built-in one.",
)
@click.option(
    "--contact",
    "contact",
    multiple=True,
    metavar="KEY=VALUE",
    help="Contact values for the prompts' {variables}.",
)
@click.option(
    "--transport",
    type=click.Choice(["loopback", "janus"]),
    default="loopback",
    show_default=True,
    help="How the call is carried: loopback (a simulated persona) or janus (a real phone, "
    "through the Janus SIP gateway; settings from VOICEBOT_JANUS_*).",
)
@click.option("--caller-id", default="+12025550100", show_default=True)
@click.option(
    "--campaign",
    default="manual",
    show_default=True,
    help="Campaign the attempt counts under (caps, do-not-call scope).",
)
@click.option("--ring-timeout", type=float, default=30.0, show_default=True)
@click.option(
    "--gate/--no-gate",
    default=True,
    show_default=True,
    help="Ask the compliance gate first (--no-gate: loopback personas only).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome and event log as JSON.")
@db_option
@policy_option
def call(
    number: str,
    flow_file: Path,
    persona: str | None,
    persona_file: Path | None,
    contact: tuple[str, ...],
    transport: str,
    caller_id: str,
    campaign: str,
    ring_timeout: float,
    gate: bool,
    as_json: bool,
    db: str | None,
    policy_file: Path | None,
) -> None:
    """Call NUMBER with FLOW and show the live event log.

    \b
    voicebot call +12025550143 --flow flows/satisfaction_survey.yaml --persona not_interested
    """
    from voicebot.yamlsource import SourceErrors

    err = Console(stderr=True, highlight=False)
    out = err if as_json else Console(highlight=False)
    if transport == "loopback" and persona is None:
        raise click.UsageError("the loopback transport needs --persona (who answers)")
    if transport == "janus" and not gate:
        raise click.UsageError("--no-gate is for simulated callees only; a real phone is gated")
    if transport == "janus" and persona is not None:
        raise click.UsageError("--persona is for the loopback transport; janus calls a real phone")
    variables = dict[str, object](key_values(contact, "--contact"))
    try:
        result = asyncio.run(
            _call(
                number,
                flow_file,
                persona,
                persona_file,
                variables,
                caller_id,
                campaign,
                ring_timeout,
                gate,
                db,
                policy_file,
                out,
                transport,
            )
        )
    except MissingContactValues as exc:
        raise click.UsageError(str(exc)) from None
    except SourceErrors as exc:
        raise click.ClickException(str(exc)) from None
    except (KeyError, ValueError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None

    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    sys.exit(0 if result.get("placed") else 3)


async def _call(
    number: str,
    flow_file: Path,
    persona: str | None,
    persona_file: Path | None,
    variables: dict[str, object],
    caller_id: str,
    campaign: str,
    ring_timeout: float,
    use_gate: bool,
    db: str | None,
    policy_file: Path | None,
    out: Console,
    transport: str = "loopback",
) -> dict[str, Any]:
    from voicebot.call.placement import CallChecks, CallPlan, place_call
    from voicebot.compliance.gate import Gate
    from voicebot.compliance.policy import load_policy, user_policy_path
    from voicebot.compliance.zones import parse_callee
    from voicebot.flow.lint.refusal import require_clean
    from voicebot.flow.loader import load_flow
    from voicebot.privacy import mask_number
    from voicebot.qa.timing import flow_disclosure_timing
    from voicebot.sim.personas.book import load_personas
    from voicebot.sim.personas.callee import PersonaDirectory, require_persona
    from voicebot.speech.asr.base import RecognizerUnavailable
    from voicebot.speech.asr.select import recognizer_for
    from voicebot.speech.tts.select import synthesizer_for
    from voicebot.store import open_store, resolve_db_url
    from voicebot.telephony.leg import Transport
    from voicebot.telephony.loopback import LoopbackTransport

    e164 = parse_callee(number).e164
    loaded = load_flow(flow_file)
    require_clean(loaded)  # nothing dials a flow with lint errors
    require_contact_values(loaded.flow.variables, variables)
    # The callees' book is checked before any speech model loads: a typo fails in a moment.
    personas = load_personas(persona_file) if transport != "janus" else {}
    if persona is not None:
        require_persona(personas, persona)
    locale = loaded.flow.locale
    synthesizer = await synthesizer_for(locale)
    try:
        recognizer = recognizer_for(locale)
    except RecognizerUnavailable as exc:
        out.print(f"[yellow]warning:[/] {exc}; the bot hears keys only")
        recognizer = None
    carrier: Transport
    if transport == "janus":
        from voicebot.telephony.janus import JanusConfig, JanusTransport

        carrier = JanusTransport(JanusConfig.from_env())
    else:
        directory = PersonaDirectory(personas, await synthesizer_for("en-US"))
        assert persona is not None
        directory.assign(e164, persona)
        carrier = LoopbackTransport(directory)
    store = await open_store(resolve_db_url(db)) if use_gate else None
    gate = Gate(store, load_policy(user_policy_path(policy_file))) if store else None
    checks = None
    if gate is None:
        out.print("[yellow]no compliance gate:[/] allowed only because the callee is simulated")
    else:  # the per-call QA checklist, stored with the attempt as the dialer does
        timing = await flow_disclosure_timing(loaded, synthesizer)
        checks = CallChecks(gate.store, gate.policy, loaded.flow.purpose, timing)

    def show(entry: LogEntry) -> None:
        detail = " ".join(f"{k}={v}" for k, v in entry.data.items())
        out.print(f"[dim]{entry.t:7.2f}s[/] [bold]{entry.kind.value:<18}[/] {detail}")

    out.print(f"calling {mask_number(e164)} with {loaded.name} ({persona or transport})")
    try:
        placed = await place_call(
            CallPlan(e164, loaded, campaign, caller_id, variables, ring_timeout),
            carrier,
            synthesizer,
            recognizer,
            gate=gate,
            log_listeners=[show],
            checks=checks,
        )
    finally:
        await carrier.close()
        if store is not None:
            await store.close()
    result: dict[str, Any] = {"number": mask_number(e164), "placed": placed.report is not None}
    if placed.decision is not None:
        result["decision"] = placed.decision.to_json()
        if not placed.decision.allowed:
            reasons = ", ".join(r.value for r in placed.decision.reasons)
            when = placed.decision.not_before
            out.print(
                f"[red]not called:[/] {reasons}"
                + (f"; not before {when.isoformat()}" if when else "")
            )
    if placed.report is not None:
        report = placed.report
        result.update(
            outcome=report.outcome.value,
            reason=report.reason,
            talk_seconds=report.talk_seconds,
            log=report.log.as_list(),
            transcript=[{"who": t.who, "text": t.text} for t in report.transcript],
        )
        out.print(
            f"[bold]outcome:[/] {report.outcome.value}"
            + (f" ({report.reason})" if report.reason else "")
            + f", talk {report.talk_seconds:.1f}s"
        )
    return result
