"""Loading flows: the examples load, and every shape error names file:line:col, the field and
what was expected, so a flow designer can fix it without reading Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import FLOWS_BROKEN
from voicebot.flow.loader import load_flow
from voicebot.flow.model import Flow
from voicebot.resources import flows_dir, prompts_dir
from voicebot.yamlsource import SourceErrors

BROKEN = FLOWS_BROKEN
EXAMPLES = sorted(flows_dir().glob("*.yaml"))


@pytest.mark.parametrize("flow_file", EXAMPLES, ids=lambda p: p.stem)
def test_example_flows_load_with_their_prompts(flow_file: Path) -> None:
    loaded = load_flow(flow_file)
    assert isinstance(loaded.flow, Flow)
    assert loaded.name == flow_file.stem
    assert loaded.prompts is not None
    assert loaded.prompts.locale == loaded.flow.locale
    assert loaded.prompts_dir.resolve() == prompts_dir().resolve()


def test_there_are_example_flows_for_each_purpose() -> None:
    purposes = {load_flow(p).flow.purpose.value for p in EXAMPLES}
    assert purposes == {"notification", "marketing", "survey"}


def test_prompts_beside_the_flow_win() -> None:
    loaded = load_flow(BROKEN / "dead-end.yaml")
    assert loaded.prompts_dir == BROKEN / "prompts"
    assert loaded.prompts is not None
    assert "hold" in loaded.prompts


def test_missing_locale_file_loads_without_prompts() -> None:
    loaded = load_flow(BROKEN / "prompt-missing--locale.yaml")
    assert loaded.prompts is None


def _error(name: str) -> str:
    with pytest.raises(SourceErrors) as info:
        load_flow(BROKEN / name)
    errors = info.value.errors
    assert len(errors) == 1, [str(e) for e in errors]
    return str(errors[0])


def _text_at(name: str, line: int, col: int) -> str:
    return (BROKEN / name).read_text(encoding="utf-8").splitlines()[line - 1][col - 1 :]


@pytest.mark.parametrize(
    ("name", "expected", "points_at"),
    [
        (
            "load-unknown-field.yaml",
            "load-unknown-field.yaml:28:5: states.thanks.sya: unknown field (check the spelling",
            "sya:",
        ),
        (
            "load-wrong-type.yaml",
            "load-wrong-type.yaml:18:7: states.ask.listen.timeout: Input should be a valid number",
            "timeout: soon",
        ),
        (
            "load-bad-event.yaml",
            "load-bad-event.yaml:20:7: states.ask.on.press1: 'press1' does not match the "
            "expected form ^(dtmf",
            "press1:",
        ),
        (
            "load-next-no-state.yaml",
            "load-next-no-state.yaml:29:5: states.thanks.next: no state named 'goodbey'; "
            "expected one of: ask, goodbye, opt_out, thanks",
            "next: goodbey",
        ),
        (
            "load-missing-field.yaml",
            "load-missing-field.yaml:2:1: start: required field is missing",
            "purpose:",
        ),
        (
            "load-bad-yaml.yaml",
            "load-bad-yaml.yaml:29:8: YAML syntax: expected ',' or ']', but got ':'",
            ": completed",
        ),
    ],
)
def test_load_errors_name_position_field_and_expectation(
    name: str, expected: str, points_at: str
) -> None:
    message = _error(name)
    assert message.startswith(str(BROKEN / expected)), message
    line, col = (int(n) for n in message.removeprefix(str(BROKEN / name)).split(":")[1:3])
    assert _text_at(name, line, col).startswith(points_at)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (BROKEN / "load-unknown-field.yaml").read_text(encoding="utf-8")
    text = text.replace("timeout: 5", "timeout: soon").replace("dtmf.1: thanks", "dtmf.x: thanks")
    path = tmp_path / "many.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceErrors) as info:
        load_flow(path)
    fields = {e.field for e in info.value.errors}
    assert fields == {"states.thanks.sya", "states.ask.listen.timeout", "states.ask.on.dtmf.x"}


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(SourceErrors, match=r"list\.yaml:1:1: a flow is a mapping"):
        load_flow(path)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceErrors, match=r"nope\.yaml:1:1: cannot read file"):
        load_flow(tmp_path / "nope.yaml")


def test_every_load_error_of_a_flow_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        "purpose: survey\nlocale: en-US\ncompany: X\nstart: ask\n"
        "handlers: {9: opt_out}\n"
        "states:\n"
        "  ask:\n"
        "    say: [disclosure]\n"
        '    listen: {dtmf: "1", timeout: soon}\n'
        "    on: {1: thanks, no_input: missing}\n"
        "  thanks: {end: completed, sya: [x]}\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceErrors) as info:
        load_flow(path)
    messages = [str(e).removeprefix(str(path)) for e in info.value.errors]
    assert (
        ":5:12: handlers[9]: Input should be a valid string (got 9); a keypad digit is "
        "written dtmf.9" in messages
    )
    assert any(m.startswith(":9:") and "timeout" in m for m in messages), messages
    assert any("states.ask.on[1]" in m and "written dtmf.1" in m for m in messages), messages
    assert any("states.thanks.sya: unknown field" in m for m in messages), messages
    assert any("no state named 'missing'" in m for m in messages), messages
    assert any("no state named 'opt_out'" in m for m in messages), messages
    assert len(messages) == 6, messages
