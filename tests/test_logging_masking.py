"""Every log line masks phone numbers: structlog fields and messages, stdlib ``logging`` calls
(with %-arguments), nested values and tracebacks; things that are not numbers stay readable."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from voicebot.logging import configure_logging, mask_value
from voicebot.privacy.masking import mask_text

RAW = ("13800138000", "8613800138000", "0013 8000", "2025550123", "555-0123")


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging(logging.DEBUG, json=True, stream=out)
    yield out
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_voicebot_masking_handler", False):
            root.removeHandler(handler)


def _clean(text: str) -> None:
    for raw in RAW:
        assert raw not in text, f"{raw} leaked: {text}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dialling +8613800138000 now", "dialling +86 138****8000 now"),
        ("dialling +86 138 0013 8000.", "dialling +86 138****8000."),
        ("callee 13800138000, again", "callee 138****8000, again"),
        ("call 138-0013-8000", "call 138****8000"),
        ("US +1 (202) 555-0123", "US +1 202***0123"),
        ("national (202) 555-0123", "national 202***0123"),
        ("tel:+12025550123;x", "tel:+1 202***0123;x"),
    ],
)
def test_numbers_in_text_are_masked(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "at 2026-11-22T07:10:47+00:00",
        "took 0.123456789 s",
        "attempt 12345 of campaign 7",
        "file calls/42/recording.wav",
        "uuid 3f9c1e0a-5b7d-2c44-8e1f-0a1b2c3d4e5f",
        "masked 138****8000",
    ],
)
def test_things_that_are_not_numbers_stay(text: str) -> None:
    assert mask_text(text) == text


def test_nested_values_and_number_named_ints_are_masked() -> None:
    masked = mask_value(
        {"numbers": ["+8613800138000", ("13800138001",)], "phone": 13800138002, "count": 13}
    )
    assert masked == {
        "numbers": ["+86 138****8000", ("138****8001",)],
        "phone": "138****8002",
        "count": 13,
    }


def test_structlog_fields_and_events_are_masked(lines: io.StringIO) -> None:
    log = structlog.get_logger("voicebot.test")
    log.info("dialling +8613800138000", number="+8613800138000", extra={"to": "13800138000"})
    record = json.loads(lines.getvalue().splitlines()[-1])
    _clean(lines.getvalue())
    assert record["event"] == "dialling +86 138****8000"
    assert record["number"] == "+86 138****8000"
    assert record["extra"] == {"to": "138****8000"}
    assert record["level"] == "info" and record["logger"] == "voicebot.test"


def test_stdlib_logging_is_bridged_and_masked(lines: io.StringIO) -> None:
    logging.getLogger("aiortc.test").warning("no answer from %s after %d s", "+12025550123", 30)
    record = json.loads(lines.getvalue().splitlines()[-1])
    _clean(lines.getvalue())
    assert record["event"] == "no answer from +1 202***0123 after 30 s"
    assert record["level"] == "warning"


def test_tracebacks_are_masked(lines: io.StringIO) -> None:
    try:
        raise ValueError("cannot dial +8613800138000")
    except ValueError:
        logging.getLogger("voicebot.x").exception("failed for 13800138000")
        structlog.get_logger("voicebot.y").exception("failed again")
    _clean(lines.getvalue())
    text = lines.getvalue()
    # Two tracebacks, each with the source line and the exception's message.
    assert text.count("cannot dial +86 138****8000") == 4
    assert "failed for 138****8000" in text


def test_console_lines_are_masked_too() -> None:
    out = io.StringIO()
    configure_logging(logging.INFO, stream=out)
    try:
        structlog.get_logger("c").info("call", callee="+8613800138000")
        logging.getLogger("c").info("to %s", "138 0013 8000")
    finally:
        structlog.reset_defaults()
        configure_logging(logging.WARNING, stream=io.StringIO())
    _clean(out.getvalue())
    assert out.getvalue().count("138****8000") == 2
