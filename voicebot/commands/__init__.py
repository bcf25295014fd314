"""Command groups of the ``voicebot`` CLI, one module per group (see ``voicebot.cli``)."""

from voicebot.sim.campaign_transports import install as _install_simulated_transports

# The composition root: campaigns on the loopback and simulated transports dial simulated people,
# which the engine's packages do not import; every command (and a forked worker) gets them here.
_install_simulated_transports()
