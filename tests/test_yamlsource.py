"""Positions and messages of YAML errors: every hand-written file relies on them."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from voicebot.yamlsource import SourceErrors, parse_yaml


class _Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int
    name: str


def test_yaml12_booleans_keep_on_and_no_as_strings() -> None:
    doc = parse_yaml("on: {dtmf.1: next}\ncountry: NO\nflag: true\n")
    assert doc.data == {"on": {"dtmf.1": "next"}, "country": "NO", "flag": True}


def test_validation_errors_name_line_column_and_field() -> None:
    doc = parse_yaml("name: x\nsize: big\nextra: 1\n", "thing.yaml")
    with pytest.raises(SourceErrors) as info:
        doc.validate(_Thing)
    messages = [str(e) for e in info.value.errors]
    assert any(m.startswith("thing.yaml:2:1: size:") for m in messages), messages
    assert any(m.startswith("thing.yaml:3:1: extra: unknown field") for m in messages), messages


def test_missing_field_points_at_the_parent() -> None:
    doc = parse_yaml("name: x\n", "thing.yaml")
    with pytest.raises(SourceErrors) as info:
        doc.validate(_Thing)
    assert str(info.value.errors[0]) == "thing.yaml:1:1: size: required field is missing"


def test_syntax_error_and_duplicate_key_have_positions() -> None:
    with pytest.raises(SourceErrors, match=r"^bad.yaml:2:1: YAML syntax: duplicate key 'a'"):
        parse_yaml("a: 1\na: 2\n", "bad.yaml")
    with pytest.raises(SourceErrors, match=r"^bad.yaml:\d+:\d+: YAML syntax"):
        parse_yaml("a: [1,\n", "bad.yaml")
