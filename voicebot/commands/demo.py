"""``voicebot demo``: the whole engine in one command, offline, in a few minutes.

Writes a sample campaign of fictional numbers, pre-renders the prompts, dials every persona over
the loopback transport with live progress, prints who ended how (and whether that is what the
persona should get), and writes a self-contained HTML report. Each run uses a fresh database of
its own (unless ``--db``), so a second run is not blocked by the first one's caps.

No phone number lies in the demo's folder in the clear: the sample contacts file is written to a
private scratch folder and deleted once imported, the database keeps numbers hashed and sealed,
recordings and transcripts are encrypted, and the report and logs show masked numbers. The
demo's master key is kept outside the folder (``demo.keys`` in the user config directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import tempfile
from dataclasses import replace
from pathlib import Path

import click
import platformdirs
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from voicebot.campaign.clock import RealClock
from voicebot.campaign.config import load_campaign
from voicebot.campaign.dialer import DialerEvent
from voicebot.campaign.launch import Collector, dial, prepare, results_of, runner_for
from voicebot.campaign.report import write_report
from voicebot.campaign.stored import add_store_facts
from voicebot.commands.compliance import policy_option
from voicebot.commands.prompts import render_flow
from voicebot.compliance import dnc
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import Policy, load_policy, user_policy_path
from voicebot.flow.approval import approve, check_approved
from voicebot.privacy import mask_number
from voicebot.privacy.vault.errors import KeyFileError
from voicebot.privacy.vault.keys import Keyring, MasterKey, read_key_file, write_key_file
from voicebot.privacy.vault.vault import Vault
from voicebot.purpose import Purpose
from voicebot.sim import demo_campaign as sample
from voicebot.speech.tts import synthesizer_for
from voicebot.store import open_store, resolve_db_url


def demo_key_file() -> Path:
    """Where the demo's own master key lives: the user config directory, not the demo folder
    (a key beside the data it protects would protect nothing)."""
    return platformdirs.user_config_path("voicebot") / "demo.keys"


def demo_keyring() -> Keyring:
    """The demo's own master key (created on first use, mode 0600): it seals the numbers in the
    demo's database and encrypts its recordings; the demo never touches the user's keys."""
    key_file = demo_key_file()
    if not key_file.exists():
        with contextlib.suppress(KeyFileError):  # another demo may have created it first
            write_key_file(key_file, Keyring(MasterKey.generate(), source=str(key_file)))
    return read_key_file(key_file)


def demo_vault(folder: Path, keyring: Keyring) -> Vault:
    """The demo's encrypted store for recordings and transcripts, in the demo folder."""
    return Vault(folder / "vault", keyring, lambda *_: None)


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the sample campaign, database and report (default: a new folder in "
    "the user data dir).",
)
@click.option(
    "--db", default=None, metavar="URL", help="Database (default: a fresh file in --dir)."
)
@click.option(
    "--personas",
    default=None,
    metavar="NAME,...",
    help="Only these personas of the cast (the do-not-call and night contacts always run).",
)
@policy_option
def demo(
    directory: Path | None, db: str | None, personas: str | None, policy_file: Path | None
) -> None:
    """Run a sample campaign against simulated people and write its report."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    folder = (
        directory or Path(platformdirs.user_data_dir("voicebot", appauthor=False)) / "demo" / stamp
    )
    folder.mkdir(parents=True, exist_ok=True)
    url = resolve_db_url(db or str(folder / "demo.db"))
    policy = load_policy(user_policy_path(policy_file))
    console = Console()
    try:
        chosen = frozenset(p.strip() for p in personas.split(",")) if personas else None
        known = {r.persona for r in sample.CAST}
        if chosen is not None and not chosen <= known:
            unknown = ", ".join(sorted(chosen - known))
            raise click.BadParameter(
                f"{unknown}: not in the cast ({', '.join(sorted(known))})", param_hint="--personas"
            )
        ok = asyncio.run(_run(folder, url, policy, console, chosen))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    if not ok:
        raise SystemExit(1)


async def _run(
    folder: Path, url: str, policy: Policy, console: Console, personas: frozenset[str] | None
) -> bool:
    clock = RealClock()
    keyring = demo_keyring()
    store = await open_store(url, keyring=keyring)
    try:
        gate = Gate(store, policy)
        plan = await sample.plan_demo(sample.gate_decide(gate), clock.now())
        day, night = plan.day, plan.night
        people = sample.cast(day, night, personas)
        roles = {p.number: p for p in people}
        dnc_person = next(p for p in people if p.role is sample.DNC_ROLE)
        await dnc.add(store, policy, dnc_person.number, None, "demo: listed before", clock.now())
        console.print(
            f"[bold]voicebot demo[/]: {len(people)} fictional numbers in {day.label}"
            + (f", one in {night.label} (night there now)" if night else "")
        )
        if plan.purpose is not Purpose.MARKETING:
            console.print(
                "[yellow]no zone may get a marketing call now[/] (a public holiday wherever it is "
                f"daytime): the demo runs a {plan.purpose.value} instead ({plan.flow.stem})"
            )
        # The contacts file lives only until imported, in a private scratch folder (0700):
        # from then on the numbers are in the store, hashed and sealed.
        with tempfile.TemporaryDirectory(prefix="voicebot-demo-") as scratch:
            prepared = prepare(load_campaign(sample.write_sample(Path(scratch), people, plan.flow)))
        # Only approved scripts run: the demo approves its example flow, as a reviewer would.
        await approve(store, prepared.loaded, "voicebot demo")
        await check_approved(prepared.loaded, store)
        for problem in prepared.import_problems:
            console.print(f"[yellow]not imported:[/] {problem}")

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        with progress:
            synth = await synthesizer_for(prepared.loaded.flow.locale)
            await render_flow(prepared.loaded, synth, {}, progress)
            calls = progress.add_task("calls", total=len(people))
            counts: dict[str, int] = {}

            def on_event(event: DialerEvent) -> None:
                role = roles[event.entry.number].role
                if event.kind == "ended" and event.outcome is not None:
                    counts[event.outcome.value] = counts.get(event.outcome.value, 0) + 1
                    progress.console.print(
                        f"  {event.masked:<14} {role.persona:<15} -> {event.outcome.value}"
                    )
                    progress.advance(calls)
                elif event.kind == "blocked":
                    progress.console.print(
                        f"  {event.masked:<14} {role.persona:<15} -> blocked "
                        f"({', '.join(event.reasons)})"
                    )
                    progress.advance(calls)
                summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                progress.update(calls, description=f"calls ({summary})" if summary else "calls")

            collector = Collector(listeners=[on_event])
            started = clock.now()
            notes: list[str] = []
            vault = demo_vault(folder, keyring)
            async with runner_for(prepared, notes.append, gate=gate, vault=vault) as runner:
                for note in notes:
                    progress.console.print(f"[yellow]{note}[/]")
                entries = await dial(prepared, gate, runner, clock, collector, until_idle=True)
        results = results_of(
            prepared, entries, collector, started, clock.now(), label_column="persona"
        )
        listed = {e.number for e in await dnc.entries(store)}
        await add_store_facts(store, results)
    finally:
        await store.close()

    table = Table(title="demo: each persona and how its call ended")
    for column in ("number", "persona", "outcome", "expected", ""):
        table.add_column(column)
    good = 0
    checked = []
    for entry, call in zip(entries, results.calls, strict=True):
        role = roles[entry.number].role
        reasons = call.blocked
        handed_off = any(t.kind == "handoff" for t in call.timeline)
        shown = call.status + (f" ({', '.join(reasons)})" if reasons else "")
        if handed_off:
            shown = f"handoff (no agent) -> {shown}"
        ok = sample.verdict(role, call.status, reasons, handed_off)
        good += ok
        checked.append(replace(call, expected=sample.expected_text(role), as_expected=ok))
        table.add_row(call.number, role.persona, shown, sample.expected_text(role),
                      "[green]yes[/]" if ok else "[red]NO[/]")  # fmt: skip
    console.print(table)
    results.calls = checked
    opted = [e.number for e in entries if e.last_outcome == "opted_out"]
    missing = [n for n in opted if n not in listed]
    console.print(
        f"do-not-call list: {len(listed)} numbers; every opt-out is on it: "
        + (
            "[green]yes[/]"
            if not missing
            else f"[red]NO ({', '.join(map(mask_number, missing))})[/]"
        )
    )
    reasons_count = results.block_reasons()
    if reasons_count:
        console.print(
            "blocked by the gate: "
            + ", ".join(f"{k} {v}" for k, v in sorted(reasons_count.items()))
        )
    report = folder / "report.html"
    write_report(results, report)
    console.print(f"{good} of {len(entries)} as expected. Report: {report}")
    return good == len(entries) and not missing
