"""Command groups of the ``voicebot`` CLI, one module per group (see ``voicebot.cli``)."""
