"""The campaign transports whose callees are simulated, registered as entry points of
:mod:`voicebot.campaign.carriers`' groups in ``pyproject.toml``.

``loopback``: calls over real WebRTC media on this machine to the personas of the campaign's book
(its ``personas`` file, or the built-in one), each contact's persona named in its
``persona_column``. ``simulated``: no media, scripted call endings
(:class:`~voicebot.sim.scripted_runner.SimulatedRunner`). The heavy imports wait until a
campaign uses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicebot.campaign.config import Campaign
    from voicebot.campaign.launch import Prepared
    from voicebot.campaign.runner import CallRunner
    from voicebot.telephony.leg import Transport


async def loopback_personas(prepared: Prepared) -> Transport:
    """A loopback transport whose callees are the campaign's personas."""
    from voicebot.sim.personas.book import load_personas
    from voicebot.sim.personas.callee import PersonaDirectory
    from voicebot.speech.tts.select import synthesizer_for
    from voicebot.telephony.loopback import LoopbackTransport

    campaign = prepared.campaign
    directory = PersonaDirectory(load_personas(campaign.personas), await synthesizer_for("en-US"))
    for contact in prepared.contacts.contacts:
        persona = contact.variables.get(campaign.persona_column)
        if persona:
            directory.assign(contact.number, persona)
    return LoopbackTransport(directory)


def scripted_calls(campaign: Campaign) -> CallRunner:
    """A runner without media: each contact's calls end as its ``simulate`` column scripts."""
    from voicebot.sim.scripted_runner import SimulatedRunner

    return SimulatedRunner(call_seconds=campaign.simulated_call_seconds)
