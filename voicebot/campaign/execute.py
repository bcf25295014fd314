"""One campaign run from start to results, shared by ``voicebot campaign run`` (a terminal) and
``voicebot serve --campaign`` (the console's process, where agents take the handoffs).

Only approved scripts run: ``dev`` runs an unapproved flow anyway, audited and shown in the report.
"""

from __future__ import annotations

from collections.abc import Callable

from voicebot.campaign.clock import Clock, RealClock
from voicebot.campaign.dialer import Dialer, DialerEvent
from voicebot.campaign.launch import Collector, Prepared, dial, results_of, runner_for
from voicebot.campaign.results import CampaignResults
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import Policy
from voicebot.flow.approval import NotApproved, check_approved, record_dev_override
from voicebot.handoff.desk import AgentDesk
from voicebot.privacy.audit_events import vault_hook
from voicebot.privacy.vault.errors import KeyFileError
from voicebot.privacy.vault.keys import load_keyring
from voicebot.privacy.vault.vault import Vault
from voicebot.store import Store

Note = Callable[[str], None]


def campaign_vault(store: Store, note: Note) -> Vault | None:
    """Where the campaign's recordings and transcripts go: the vault under the configured
    master key, or nowhere (said once) when no key is set."""
    try:
        keyring = load_keyring()
    except KeyFileError as exc:
        note(f"recordings are not kept: {exc} (create a key with `voicebot keys init`)")
        return None
    return store.vault(keyring, vault_hook(store))


async def approved_or_dev(store: Store, prepared: Prepared, dev: bool, note: Note) -> bool:
    """Only approved scripts run; ``dev`` runs anyway, audited. True when overridden.

    Raises:
        NotApproved: the flow (or a prompt it uses) is not as a reviewer approved it.
    """
    try:
        await check_approved(prepared.loaded, store)
        return False
    except NotApproved as exc:
        if not dev:
            raise
        await record_dev_override(store, prepared.loaded, exc)
        note(f"--dev: running an unapproved flow: {exc}")
        return True


async def run_campaign(
    prepared: Prepared,
    store: Store,
    policy: Policy,
    *,
    dev: bool = False,
    note: Note = lambda _: None,
    listeners: list[Callable[[DialerEvent], None]] | None = None,
    control: Callable[[Dialer], None] = lambda _: None,
    desk: AgentDesk | None = None,
    until_idle: bool = False,
    clock: Clock | None = None,
) -> CampaignResults:
    """Dial ``prepared`` until done (or idle) and return its results for the report.

    Raises:
        NotApproved: the flow is not approved and ``dev`` is off.
        TransportUnavailable: the campaign's transport cannot be reached.
        CampaignBusy: another live process runs this campaign (its lease names it).
    """
    clock = clock or RealClock()
    started = clock.now()
    collector = Collector(listeners=list(listeners or []))
    dev_override = await approved_or_dev(store, prepared, dev, note)
    gate = Gate(store, policy)
    vault = campaign_vault(store, note)
    async with runner_for(prepared, note, gate=gate, vault=vault) as runner:
        entries = await dial(
            prepared, gate, runner, clock, collector,
            until_idle=until_idle, control=control, desk=desk, note=note,
        )  # fmt: skip
    results = results_of(prepared, entries, collector, started, clock.now())
    results.dev_override = dev_override
    return results


__all__ = ["NotApproved", "approved_or_dev", "campaign_vault", "run_campaign"]
