"""Logging for the whole engine: structlog, with every phone number masked on its way out.

Call :func:`configure_logging` once at start-up (the CLI and the server do). Both structlog
loggers and the standard library's ``logging`` (aiortc, aiohttp, SQLAlchemy, our older modules)
go through one chain that ends in :func:`mask_processor`, so a number in a message, in a field,
in a nested dict or in a traceback is printed as ``138****8000``, whoever logged it.

A number is recognised in free text as ``+`` and 7-15 digits (spaces, dashes, dots and brackets
allowed between them), a national form with separators (``138 0013 8000``, ``(202) 555-0123``)
or a bare run of 7-15 digits that is not part of a word or a decimal
(:func:`voicebot.privacy.masking.mask_text`). Over-masking a long id is the price of never
leaking a number.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from voicebot.privacy.masking import mask_text

_NUMBER_KEYS = ("number", "phone", "callee", "caller", "msisdn", "e164")
_HANDLER_MARK = "_voicebot_masking_handler"


def mask_value(value: Any, key: str = "") -> Any:
    """``value`` with numbers masked: strings scanned, containers walked, ints under number keys."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(mask_value(v, key) for v in value)
    if isinstance(value, int) and not isinstance(value, bool) and _names_a_number(key):
        return mask_text(str(value))
    if isinstance(value, BaseException):
        return mask_text(f"{type(value).__name__}: {value}")
    return value


def _names_a_number(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in _NUMBER_KEYS)


def mask_processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask every phone number in every field of the event."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):  # structlog's bookkeeping (_record, _from_structlog)
            continue
        event_dict[key] = mask_value(value, key)
    return event_dict


def shared_processors() -> list[Processor]:
    """The chain both structlog and stdlib records go through, masking last."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        mask_processor,
    ]


def configure_logging(
    level: int | str = logging.INFO, *, json: bool = False, stream: TextIO | None = None
) -> None:
    """Route structlog and stdlib logging through the masking chain to ``stream`` (stderr).

    Safe to call again (tests, reconfiguration): the handler it installed before is replaced.

    Args:
        level: the root logger's level.
        json: one JSON object per line (for log shippers) instead of console lines.
        stream: where lines go (default ``sys.stderr``).
    """
    shared = shared_processors()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def masked_dict(fields: MutableMapping[str, Any]) -> dict[str, Any]:
    """A copy of ``fields`` safe to show or log (API error bodies, debug dumps)."""
    return {k: mask_value(v, k) for k, v in fields.items()}
