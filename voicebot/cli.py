"""The ``voicebot`` command line. Thin: parse, then call the packages that do the work.

Command groups live in ``voicebot/commands/`` (one module per group) and are imported only
when used, so ``voicebot intent ...`` does not pay for loading WebRTC or the database.
"""

from __future__ import annotations

import os
import sys

import click

from voicebot import __version__
from voicebot.commands.lazy import LazyGroup

# name -> "module:attribute" of a click command or group, loaded on first use.
COMMANDS: dict[str, str] = {
    "flow": "voicebot.commands.flow:flow",
    "call": "voicebot.commands.call:call",
    "intent": "voicebot.commands.intent:intent",
    "bench": "voicebot.commands.bench:bench",
    "keys": "voicebot.commands.keys:keys",
    "models": "voicebot.commands.models:models",
    "prompts": "voicebot.commands.prompts:prompts",
    "compliance": "voicebot.commands.compliance:compliance",
    "dnc": "voicebot.commands.dnc:dnc",
    "review": "voicebot.commands.review:review",
    "serve": "voicebot.commands.serve:serve",
    "users": "voicebot.commands.users:users",
    "qa": "voicebot.commands.qa:qa",
    "audit": "voicebot.commands.audit:audit",
    "purge": "voicebot.commands.purge:purge_command",
    "erase": "voicebot.commands.erase:erase_command",
    "campaign": "voicebot.commands.campaign:campaign",
    "demo": "voicebot.commands.demo:demo",
    "worker": "voicebot.commands.worker:worker",
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="voicebot")
def cli() -> None:
    """voicebot: compliance-first outbound voice bot."""


def main() -> None:
    """Console-script entry point.

    Logging goes to stderr through the masking chain (no full phone number in any log line):
    level from ``VOICEBOT_LOG_LEVEL`` (default WARNING), JSON lines if ``VOICEBOT_LOG_JSON=1``.
    """
    from voicebot.logging import configure_logging

    configure_logging(
        os.environ.get("VOICEBOT_LOG_LEVEL", "WARNING").upper(),
        json=os.environ.get("VOICEBOT_LOG_JSON") == "1",
    )
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    cli()
