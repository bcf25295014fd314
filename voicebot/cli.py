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
    "asr": "voicebot.commands.asr:asr",
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


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's text (SQLAlchemy appends SQL and links below it)."""
    orig = getattr(exc, "orig", None)  # a database driver's own error, inside SQLAlchemy's
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class CleanErrorsGroup(LazyGroup):
    """Turns the faults bad command-line input causes deep down (a path the OS refuses, a
    number too large for the database, a file that is no database) into one ``Error:`` line
    with exit status 1, instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}") from None
        except OverflowError as exc:
            raise click.ClickException(f"a value is out of range: {_one_line(exc)}") from None
        except Exception as exc:
            if type(exc).__module__.startswith("sqlalchemy"):
                raise click.ClickException(f"database: {_one_line(exc)}") from None
            raise


@click.group(
    cls=CleanErrorsGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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
    try:
        cli()
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("VOICEBOT_DEBUG") == "1":
            raise
        print(
            f"Error: unexpected {type(exc).__name__}: {exc} (a bug: please report it; "
            "VOICEBOT_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        sys.exit(70)
