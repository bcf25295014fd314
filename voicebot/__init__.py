"""voicebot: a compliance-first outbound voice-bot engine.

Flows are written in YAML (see ``flows/``), prompts per locale in ``prompts/``;
every dial passes the compliance gate first.
"""

from voicebot.outcomes import Outcome

__all__ = ["Outcome", "__version__"]
__version__ = "0.1.0"
