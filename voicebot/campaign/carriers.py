"""The campaign transports the engine does not build itself, added by whoever composes the program.

A campaign file names its ``transport``. The engine builds ``janus`` (real phones through the
Janus SIP gateway) in :mod:`voicebot.campaign.launch`. ``loopback`` (calls to simulated callees on
this machine) and ``simulated`` (no media: scripted call endings) need simulated people, which
live in :mod:`voicebot.sim`; ``voicebot.commands`` adds them here when it is imported
(:func:`voicebot.sim.campaign_transports.install`), so no engine package imports the simulation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicebot.campaign.config import Campaign
    from voicebot.campaign.launch import Prepared
    from voicebot.campaign.runner import CallRunner
    from voicebot.telephony.leg import Transport

RunnerFactory = Callable[["Campaign"], "CallRunner"]
"""Builds a runner that stands in for transport and call session (runs no flow)."""

TransportFactory = Callable[["Prepared"], Awaitable["Transport"]]
"""Builds the transport the campaign's calls go out on (closed by the caller)."""

_runners: dict[str, RunnerFactory] = {}
_transports: dict[str, TransportFactory] = {}


def add_runner(name: str, factory: RunnerFactory) -> None:
    """Make ``transport: name`` run its calls on ``factory``'s runner, without media."""
    _runners[name] = factory


def add_transport(name: str, factory: TransportFactory) -> None:
    """Make ``transport: name`` place its calls on ``factory``'s transport."""
    _transports[name] = factory


def runner_factory(name: str) -> RunnerFactory | None:
    """The runner added for ``transport: name``, if any."""
    return _runners.get(name)


def transport_factory(name: str) -> TransportFactory | None:
    """The transport added for ``transport: name``, if any."""
    return _transports.get(name)
