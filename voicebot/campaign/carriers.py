"""The campaign transports the engine does not build itself, found as package entry points.

A campaign file names its ``transport``. The engine builds ``janus`` (real phones through the
Janus SIP gateway) in :mod:`voicebot.campaign.launch`. Any other name is looked up in two entry
point groups, so no engine package imports what provides it: ``voicebot.campaign_transports``
(a transport the calls go out on) and ``voicebot.campaign_runners`` (a runner that stands in for
transport and call session, no media). voicebot's own ``pyproject.toml`` registers ``loopback``
(simulated callees on this machine) and ``simulated`` (scripted call endings) from
:mod:`voicebot.sim`; another distribution may register its own carrier the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from voicebot.campaign.config import Campaign
    from voicebot.campaign.launch import Prepared
    from voicebot.campaign.runner import CallRunner
    from voicebot.telephony.leg import Transport

TRANSPORTS = "voicebot.campaign_transports"
"""Entry point group: ``name = "module:function"`` with a :data:`TransportFactory`."""
RUNNERS = "voicebot.campaign_runners"
"""Entry point group: ``name = "module:function"`` with a :data:`RunnerFactory`."""

RunnerFactory = Callable[["Campaign"], "CallRunner"]
"""Builds a runner that stands in for transport and call session (runs no flow)."""

TransportFactory = Callable[["Prepared"], Awaitable["Transport"]]
"""Builds the transport the campaign's calls go out on (closed by the caller)."""


def runner_factory(name: str) -> RunnerFactory | None:
    """The runner registered for ``transport: name``, if any."""
    return cast("RunnerFactory | None", _load(RUNNERS, name))


def transport_factory(name: str) -> TransportFactory | None:
    """The transport registered for ``transport: name``, if any."""
    return cast("TransportFactory | None", _load(TRANSPORTS, name))


def runs_no_flow(name: str) -> bool:
    """Whether ``transport: name`` is a runner standing in for the call (no flow, no media),
    found without importing it."""
    return any(True for _ in entry_points(group=RUNNERS, name=name))


def registered() -> list[str]:
    """Every transport name some installed distribution registers (for error messages)."""
    return sorted({ep.name for group in (TRANSPORTS, RUNNERS) for ep in entry_points(group=group)})


def _load(group: str, name: str) -> object | None:
    for point in entry_points(group=group, name=name):
        loaded: object = point.load()
        return loaded
    return None
