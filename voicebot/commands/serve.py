"""``voicebot serve``: run the web console (API, agent console, admin pages, metrics).

Binds 127.0.0.1 by default: exposing the console is a deliberate act (``--host``), and then it
should sit behind TLS (``--tls-cert/--tls-key``, which also marks session cookies ``Secure``).
The session key is kept in a file (created 0600 on first use) so restarts keep people signed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import click
import platformdirs
from aiohttp import web

from voicebot.campaign.config import load_campaign
from voicebot.campaign.contacts import ContactFileError
from voicebot.campaign.dialer import Dialer, DialerEvent
from voicebot.campaign.execute import run_campaign
from voicebot.campaign.launch import Prepared, TransportUnavailable, prepare
from voicebot.campaign.lease import CampaignBusy
from voicebot.campaign.report import write_report
from voicebot.campaign.stored import add_store_facts
from voicebot.commands.campaign import waiting_line
from voicebot.commands.compliance import policy_option
from voicebot.compliance.policy import Policy, load_policy, user_policy_path
from voicebot.flow.approval import NotApproved
from voicebot.privacy.audit_events import vault_hook
from voicebot.privacy.retention import RetentionPolicy
from voicebot.privacy.vault.errors import KeyFileError
from voicebot.privacy.vault.keys import load_keyring
from voicebot.privacy.vault.vault import Vault
from voicebot.resources import flows_dir
from voicebot.store import Store, db_option, open_store, resolve_db_url
from voicebot.web.app import WebConfig, create_app
from voicebot.web.auth import load_or_create_session_key
from voicebot.web.keys import DESK, STORE
from voicebot.yamlsource import SourceErrors

_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)
_SHUTDOWN_SECONDS = 20.0
"""How long a stopping server waits for its campaigns' calls to record their outcomes."""


def default_session_key_path() -> Path:
    """Where the session key lives unless ``--session-key`` says otherwise."""
    return Path(platformdirs.user_data_dir("voicebot", appauthor=False)) / "session.key"


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names only this machine (then serving without TLS is fine)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _vault(store: Store) -> Vault | None:
    """The recordings vault when a master key is configured (erasure and retention use it)."""
    try:
        keyring = load_keyring()
    except KeyFileError as exc:
        click.echo(
            f"note: no master key ({exc}); erasure is refused until one is set "
            "(voicebot keys init)",
            err=True,
        )
        return None
    return store.vault(keyring, vault_hook(store))


class CampaignInServer:
    """Runs ``prepared`` while the server runs, its handoffs going to the console's desk.

    Shutdown is ordered: :meth:`on_shutdown` (first thing on SIGTERM/SIGINT) stops dialling and
    ends the calls under way, each with an outcome; :meth:`context`'s cleanup waits for that
    before the store is closed (``close_store`` runs after every cleanup context).
    """

    def __init__(self, prepared: Prepared, policy: Policy, dev: bool, report: Path) -> None:
        self.prepared = prepared
        self.policy = policy
        self.dev = dev
        self.report = report
        self.dialer: Dialer | None = None
        self.stopping = False

    def note(self, text: str) -> None:
        """Print ``text`` tagged with the campaign's name."""
        click.echo(f"[{self.prepared.campaign.name}] {text}", err=True)

    async def on_shutdown(self, _: web.Application) -> None:
        """Dial nothing new and end the calls under way (recorded failed, "interrupted")."""
        self.stopping = True
        if self.dialer is not None:
            self.note("shutting down: no new calls; ending the calls under way")
            self.dialer.interrupt()

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """A cleanup context: the campaign's task, finished before the store closes."""

        def progress(event: DialerEvent) -> None:
            if event.kind == "ended" and event.outcome is not None:
                self.note(f"{event.masked}: {event.outcome.value}")
            elif event.kind == "blocked":
                self.note(f"{event.masked}: blocked ({', '.join(event.reasons)})")
            elif event.kind == "waiting" and event.due is not None:
                self.note(waiting_line(event, until_idle=True))

        def control(dialer: Dialer) -> None:
            self.dialer = dialer
            if self.stopping:  # the server began to stop while the campaign was preparing
                dialer.interrupt()

        async def run() -> None:
            try:
                results = await run_campaign(
                    self.prepared, app[STORE], self.policy, dev=self.dev, note=self.note,
                    listeners=[progress], desk=app[DESK], control=control,
                )  # fmt: skip
            except (NotApproved, TransportUnavailable, CampaignBusy) as exc:
                self.note(f"not run: {exc}")
                return
            await add_store_facts(app[STORE], results)  # blocks from the audit, contacts left
            write_report(results, self.report)
            self.note(f"finished; report: {self.report}")

        task = asyncio.create_task(run(), name=f"campaign-{self.prepared.campaign.name}")
        yield
        self.stopping = True
        if self.dialer is None:  # still preparing: nothing dialled yet, nothing to wait for
            task.cancel()
        else:
            self.dialer.interrupt()
        # The calls record their outcomes; a store that hangs must not hang the exit.
        finished, _ = await asyncio.wait({task}, timeout=_SHUTDOWN_SECONDS)
        if not finished:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@db_option
@click.option(
    "--flows",
    "flows",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Flows directory listed to designers (default: the bundled examples).",
)
@click.option("--tls-cert", type=_FILE, default=None, help="PEM certificate (enables HTTPS).")
@click.option("--tls-key", type=_FILE, default=None, help="PEM private key for --tls-cert.")
@click.option(
    "--session-key",
    "session_key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File holding the session cookie key (default: in the user data dir).",
)
@click.option(
    "--campaign",
    "campaigns",
    multiple=True,
    type=_FILE,
    help="Run this campaign in the server, its handoffs going to the console's agents "
    "(repeatable). Its report is written beside the file when it finishes.",
)
@click.option("--dev", is_flag=True, help="Let --campaign run unapproved flows (audited).")
@policy_option
def serve(
    host: str,
    port: int,
    db: str | None,
    flows: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    session_key: Path | None,
    campaigns: tuple[Path, ...],
    dev: bool,
    policy_file: Path | None,
) -> None:
    """Serve the web console and its JSON API (OpenAPI at /api/openapi.json).

    With --campaign, the server also dials: a call that asks for a person rings an available
    agent's console (calls and consoles must share one process to share the audio).
    """  # fmt: skip
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    ssl_context = None
    if tls_cert is not None and tls_key is not None:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(tls_cert, tls_key)
    if not is_loopback_host(host) and ssl_context is None:
        click.echo(
            f"warning: serving on {host} without TLS; passwords and cookies cross the network "
            "in clear",
            err=True,
        )
    config = WebConfig(
        session_key=load_or_create_session_key(session_key or default_session_key_path()),
        tls=ssl_context is not None,
        flows_dir=flows or flows_dir(),
    )
    url = resolve_db_url(db)
    try:
        prepared = [(path, prepare(load_campaign(path))) for path in campaigns]
        policy = load_policy(user_policy_path(policy_file))
    except (SourceErrors, ContactFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None

    async def build() -> web.Application:
        store = await open_store(url)
        vault = _vault(store)
        app = create_app(store, replace(config, vault=vault, retention=RetentionPolicy()))
        for path, campaign in prepared:
            report = path.with_name(f"{campaign.campaign.name}-report.html")
            running = CampaignInServer(campaign, policy, dev, report)
            app.on_shutdown.append(running.on_shutdown)
            app.cleanup_ctx.append(running.context)

        async def close_store(_: web.Application) -> None:
            await store.close()

        app.on_cleanup.append(close_store)
        return app

    scheme = "https" if ssl_context else "http"
    click.echo(f"voicebot console on {scheme}://{host}:{port}/ (Ctrl-C to stop)")
    web.run_app(build(), host=host, port=port, ssl_context=ssl_context, print=None)
