"""Campaign files and policy overrides have JSON Schemas beside the flow schema: committed up to
date, named by the examples' first line, agreeing with the loaders; and load errors point at
the right schema and say what a retry looks like."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from voicebot.campaign.config import load_campaign
from voicebot.campaign.schema import CAMPAIGN_SCHEMA_FILE, POLICY_SCHEMA_FILE, rendered
from voicebot.cli import cli
from voicebot.compliance.policy import load_policy
from voicebot.resources import flows_dir
from voicebot.yamlsource import SourceErrors, load_yaml


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((flows_dir() / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_committed_schemas_are_up_to_date() -> None:
    for name, text in rendered().items():
        assert (flows_dir() / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run `voicebot campaign schema`"
        )
    checked = CliRunner().invoke(cli, ["campaign", "schema", "--check"])
    assert checked.exit_code == 0, checked.output


def test_the_examples_name_their_schema_and_pass_it_and_the_loaders(repo_root: Path) -> None:
    examples = repo_root / "examples"
    campaign = examples / "first-campaign.yaml"
    first = campaign.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema=../flows/{CAMPAIGN_SCHEMA_FILE}"
    assert (campaign.parent / first.split("=", 1)[1]).is_file()
    assert list(_validator(CAMPAIGN_SCHEMA_FILE).iter_errors(load_yaml(campaign).data)) == []
    loaded = load_campaign(campaign)
    assert loaded.default_region == "US" and loaded.personas == examples / "personas.yaml"
    for policy in ("policy.yaml", "policy-anytime.yaml"):
        path = examples / policy
        head = path.read_text(encoding="utf-8").splitlines()[0]
        assert head == f"# yaml-language-server: $schema=../flows/{POLICY_SCHEMA_FILE}"
        as_editor_sees_it = json.loads(json.dumps(load_yaml(path).data, default=str))  # dates
        assert list(_validator(POLICY_SCHEMA_FILE).iter_errors(as_editor_sees_it)) == []
        load_policy(path)  # and the real loader takes it


def test_the_schema_refuses_what_the_loader_refuses(tmp_path: Path) -> None:
    validator = _validator(CAMPAIGN_SCHEMA_FILE)
    good = {"name": "x", "flow": "f.yaml", "contacts": "c.csv", "caller_id": "+12025550100"}
    assert list(validator.iter_errors(good)) == []
    for bad in (
        {**good, "retry": {"no_answer": 1}},
        {**good, "colour": "red"},
        {**good, "default_region": "usa"},
        {k: v for k, v in good.items() if k != "caller_id"},
    ):
        assert list(validator.iter_errors(bad)), bad


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("retry:\n  no_answer: 1\n", "retry.no_answer: expected {after: SECONDS (>= 60), max:"),
        ("colour: red\n", "see flows/campaign.schema.json"),
    ],
)
def test_load_errors_point_at_the_campaign_schema(tmp_path: Path, line: str, expected: str) -> None:
    """A campaign error once sent the user to the flow schema, and `retry.no_answer: 1` said
    "Input should be a valid dictionary or instance of Retry" without naming after and max."""
    (tmp_path / "c.csv").write_text("number\n+12025550143\n", encoding="utf-8")
    (tmp_path / "f.yaml").write_text("x", encoding="utf-8")
    path = tmp_path / "camp.yaml"
    path.write_text(
        'name: t\nflow: f.yaml\ncontacts: c.csv\ncaller_id: "+12025550100"\n' + line,
        encoding="utf-8",
    )
    with pytest.raises(SourceErrors) as caught:
        load_campaign(path)
    text = str(caught.value)
    assert expected in text
    assert "flow.schema.json" not in text and "instance of Retry" not in text
    assert f"{path}:5:" in text or f"{path}:6:" in text  # the line of the bad field
