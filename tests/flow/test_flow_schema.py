"""The flow JSON Schema: committed up to date, and agreeing with the models on real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from tests.paths import FLOWS_BROKEN
from voicebot.cli import cli
from voicebot.flow.schema import SCHEMA_ID, flow_schema, render
from voicebot.resources import flows_dir
from voicebot.yamlsource import load_yaml, parse_yaml

BROKEN = FLOWS_BROKEN
COMMITTED = flows_dir() / "flow.schema.json"
EXAMPLES = sorted(flows_dir().glob("*.yaml"))
# Files the loader accepts (the lint may still refuse them): the schema must accept them too.
WELL_SHAPED = [
    *EXAMPLES,
    *sorted(p for p in BROKEN.glob("*.yaml") if not p.stem.startswith("load-")),
]
# Shape errors a schema can express (a `next` naming no state is a cross-reference it cannot).
MISSHAPEN = [
    "load-unknown-field.yaml",
    "load-wrong-type.yaml",
    "load-bad-event.yaml",
    "load-missing-field.yaml",
]


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _errors(validator: Draft202012Validator, data: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)
    ]


def test_committed_schema_is_up_to_date() -> None:
    assert COMMITTED.is_file(), "flows/flow.schema.json is missing; run: voicebot flow schema"
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        "flows/flow.schema.json is out of date with voicebot/flow/model.py; "
        "regenerate it with: voicebot flow schema"
    )


def test_schema_header() -> None:
    schema = flow_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    assert schema["title"]
    assert schema["description"]


def test_every_property_is_described() -> None:
    schema = flow_schema()
    nodes = [schema, *schema["$defs"].values()]
    undocumented = [
        f"{node.get('title', '?')}.{name}"
        for node in nodes
        for name, prop in node.get("properties", {}).items()
        if "description" not in prop
    ]
    action_object = schema["$defs"]["Action"]["anyOf"][1]
    undocumented += [
        f"Action.{name}"
        for name, prop in action_object["properties"].items()
        if "description" not in prop
    ]
    assert undocumented == []


@pytest.mark.parametrize("flow_file", WELL_SHAPED, ids=lambda p: p.stem)
def test_well_shaped_flows_validate(validator: Draft202012Validator, flow_file: Path) -> None:
    assert _errors(validator, load_yaml(flow_file).data) == []


@pytest.mark.parametrize("name", MISSHAPEN)
def test_misshapen_flows_do_not_validate(validator: Draft202012Validator, name: str) -> None:
    assert _errors(validator, load_yaml(BROKEN / name).data)


def _state(validator: Draft202012Validator, state_yaml: str) -> list[str]:
    base = load_yaml(EXAMPLES[0]).data
    base["states"]["extra"] = parse_yaml(state_yaml).data
    return _errors(validator, base)


def test_actions_are_bare_words_or_one_key_mappings(validator: Draft202012Validator) -> None:
    assert _state(validator, "do: [opt_out, hangup]\n") == []
    assert _state(validator, "do: [{set: {plan: gold}}]\nend: completed\n") == []
    assert _state(validator, "do: [dance]\nend: completed\n")
    assert _state(validator, "do: [{opt_out: true, hangup: true}]\nend: completed\n")
    assert _state(validator, "do: [{}]\nend: completed\n")


def test_end_excludes_next_and_listen(validator: Draft202012Validator) -> None:
    assert _state(validator, "end: completed\nnext: goodbye\n")
    assert _state(validator, "next: goodbye\nlisten: {timeout: 3}\n")
    assert _state(validator, "end: sideways\n")


def test_event_and_state_keys_are_checked(validator: Draft202012Validator) -> None:
    assert (
        _state(validator, "listen: {timeout: 3}\non: {dtmf.1: goodbye, no_input: goodbye}\n") == []
    )
    assert _state(validator, "listen: {timeout: 3}\non: {dtmf.x: goodbye}\n")
    assert _state(validator, "listen: {timeout: 3}\non: {no_input: bad-name}\n")


def test_cli_check_fails_when_stale_and_writes_when_asked(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["flow", "schema", "--check"]).exit_code == 0
    target = tmp_path / "flow.schema.json"
    target.write_text("{}\n", encoding="utf-8")
    stale = runner.invoke(cli, ["flow", "schema", "--check", "--output", str(target)])
    assert stale.exit_code == 1
    assert "regenerate it with: voicebot flow schema" in stale.stderr
    assert runner.invoke(cli, ["flow", "schema", "--output", str(target)]).exit_code == 0
    assert target.read_text(encoding="utf-8") == render()
    printed = runner.invoke(cli, ["flow", "schema", "--output", "-"])
    assert printed.stdout == render()
