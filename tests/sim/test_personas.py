"""The persona book: the built-in personas load, and a malformed book says where."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.sim.personas.book import load_personas
from voicebot.sim.personas.model import Pickup
from voicebot.yamlsource import SourceErrors


def test_builtin_personas_cover_the_demo_mix() -> None:
    personas = load_personas()
    assert {
        "presses_nine",
        "not_interested",
        "interested",
        "voicemail",
        "busy",
        "never_answers",
        "hangs_up_early",
        "silent",
        "rejects",
    } <= personas.keys()
    assert personas["busy"].pickup is Pickup.BUSY
    assert personas["voicemail"].voicemail is not None
    assert personas["presses_nine"].script[-1].press == "9"


def test_malformed_book_names_file_line_and_field(tmp_path: Path) -> None:
    book = tmp_path / "people.yaml"
    book.write_text(
        "personas:\n"
        "  bob:\n"
        "    script:\n"
        "      - press: 'x'\n"
        "  eve:\n"
        "    pickup: busy\n"
        "    script: [{wait: 1}]\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceErrors) as info:
        load_personas(book)
    text = str(info.value)
    assert f"{book}:4:" in text and "personas.bob.script[0].press" in text
    assert "personas.eve" in text and "does not answer" in text
