"""The flow lint: each broken flow fails with exactly its rule at the marked lines; the example
flows pass; the command's output and exit status are what scripts and editors rely on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.paths import FLOWS_BROKEN, FLOWS_VALID, ROOT
from voicebot.cli import cli
from voicebot.flow.lint import RULES, Finding, Severity, lint
from voicebot.flow.loader import load_flow
from voicebot.resources import flows_dir, prompts_dir

BROKEN = FLOWS_BROKEN
BROKEN_FLOWS = sorted(p for p in BROKEN.glob("*.yaml") if not p.name.startswith("load-"))
EXAMPLES = sorted(flows_dir().glob("*.yaml"))
MARKER = re.compile(r"#\s*lint(?:\((?P<flow>[\w-]+)\))?:\s*(?P<rules>[\w, -]+?)\s*$")


def _markers(file: Path, flow: str) -> set[tuple[str, int, str]]:
    """(file name, line, rule) of every ``# lint: rule`` marker meant for ``flow``."""
    out = set()
    for number, text in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        match = MARKER.search(text)
        if match and match["flow"] in (None, flow) and not text.lstrip().startswith("#"):
            for rule in match["rules"].split(","):
                out.add((file.name, number, rule.strip()))
    return out


def _expected(flow_file: Path) -> set[tuple[str, int, str]]:
    loaded = load_flow(flow_file)
    expected = _markers(flow_file, flow_file.stem)
    catalog = loaded.prompts_dir / f"{loaded.flow.locale}.yaml"
    if catalog.is_file():
        expected |= _markers(catalog, flow_file.stem)
    return expected


def test_every_rule_has_a_broken_flow_named_after_it() -> None:
    stems = {p.stem.split("--")[0] for p in BROKEN_FLOWS}
    assert stems == {rule.id for rule in RULES}


@pytest.mark.parametrize("flow_file", BROKEN_FLOWS, ids=lambda p: p.stem)
def test_broken_flow_fails_with_exactly_its_rule_at_the_marked_lines(flow_file: Path) -> None:
    findings = lint(load_flow(flow_file))
    got = {(Path(f.file).name, f.line, f.rule) for f in findings}
    expected = _expected(flow_file)
    assert expected, f"{flow_file.name} has no `# lint: rule` marker"
    assert got == expected, "\n".join(str(f) for f in findings)
    rule = flow_file.stem.split("--")[0]
    assert rule in {r for _, _, r in got}


@pytest.mark.parametrize("flow_file", EXAMPLES, ids=lambda p: p.stem)
def test_example_flows_are_clean(flow_file: Path) -> None:
    assert lint(load_flow(flow_file)) == []


def test_findings_point_at_the_offending_column() -> None:
    (finding,) = lint(load_flow(BROKEN / "disclosure-first.yaml"))
    line = (BROKEN / "disclosure-first.yaml").read_text().splitlines()[finding.line - 1]
    assert line[finding.col - 1 :].startswith("question")
    (finding,) = lint(load_flow(BROKEN / "disclosure-first--handoff.yaml"))
    line = (BROKEN / "disclosure-first--handoff.yaml").read_text().splitlines()[finding.line - 1]
    assert line[finding.col - 1 :].startswith("hold:")


def test_disclosure_reached_late_on_one_branch_is_reported_on_that_branch(tmp_path: Path) -> None:
    # A silent menu before the disclosure: one branch says it first, the other does not.
    flow = (BROKEN / "disclosure-first.yaml").read_text(encoding="utf-8")
    flow = flow.replace("say: [question, disclosure]  # lint: disclosure-first", "say: []")
    flow = flow.replace("dtmf.1: thanks", "dtmf.1: polite").replace(
        "dtmf.2: thanks", "dtmf.2: rude"
    )
    flow += (
        "\n  polite:\n    say: [disclosure, thanks]\n    end: completed\n"
        "\n  rude:\n    say: [thanks]\n    end: completed\n"
    )
    (tmp_path / "prompts").symlink_to(BROKEN / "prompts")
    path = tmp_path / "late.yaml"
    path.write_text(flow, encoding="utf-8")
    rules = {(f.rule, f.message.split(" can ")[0]) for f in lint(load_flow(path))}
    # Before the disclosure: the rude branch, the silent menu's own thanks/goodbye paths,
    # and the opt-out confirmation reached by 9 in the silent menu.
    assert ("disclosure-first", "prompt 'thanks'") in rules
    assert ("disclosure-first", "prompt 'goodbye'") in rules
    assert ("disclosure-first", "prompt 'opt_out_confirm'") in rules
    assert not any("polite" in f.message for f in lint(load_flow(path)))


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["flow", "lint", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_is_clean_on_the_example_flows() -> None:
    code, out, err = _run(*(str(p) for p in EXAMPLES))
    assert code == 0, out
    assert out == ""
    assert f"{len(EXAMPLES)} flows checked: 0 errors, 0 warnings" in err


def test_cli_prints_one_grepable_line_per_finding_and_exits_1() -> None:
    code, out, _ = _run(str(BROKEN / "unknown-intent.yaml"))
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert re.match(r"^\S+unknown-intent\.yaml:\d+:\d+: unknown-intent: unknown intent", line)
    assert "\x1b[" not in out  # no colour when not on a terminal


def test_cli_warnings_pass_unless_strict() -> None:
    path = str(BROKEN / "event-not-heard.yaml")
    code, out, _ = _run(path)
    assert code == 0
    assert ": event-not-heard: warning: state 'ask' maps dtmf.3" in out
    assert _run("--strict", path)[0] == 1


def test_cli_load_errors_exit_2_with_positions() -> None:
    code, out, err = _run(str(BROKEN / "load-unknown-field.yaml"), str(EXAMPLES[0]))
    assert code == 2
    assert re.search(r"load-unknown-field\.yaml:28:5: states\.thanks\.sya: unknown field", out)
    assert "1 load error" in err


def test_cli_json() -> None:
    code, out, _ = _run("--json", str(BROKEN / "listen-timeout.yaml"))
    assert code == 1
    document = json.loads(out)
    (finding,) = document["findings"]
    assert finding["rule"] == "listen-timeout"
    assert finding["severity"] == "error"
    assert finding["line"] == 16
    assert document["errors"] == 1
    assert document["warnings"] == 0


def test_cli_lints_a_directory() -> None:
    code, out, _ = _run(str(flows_dir()))
    assert code == 0, out


def test_finding_format() -> None:
    error = Finding("f.yaml", 3, 5, "dead-end", Severity.ERROR, "stuck")
    warning = Finding("f.yaml", 3, 5, "event-not-heard", Severity.WARNING, "deaf")
    assert str(error) == "f.yaml:3:5: dead-end: stuck"
    assert str(warning) == "f.yaml:3:5: event-not-heard: warning: deaf"


def test_every_rule_is_documented_with_an_example() -> None:
    docs = (ROOT / "docs" / "flows.md").read_text(encoding="utf-8")
    for rule in RULES:
        section = docs.split(f"### `{rule.id}`", 1)
        assert len(section) == 2, f"docs/flows.md has no section for {rule.id}"
        body = section[1].split("\n### ", 1)[0]
        assert f": {rule.id}: " in body, f"the {rule.id} section shows no example finding"


def _lint_text(tmp_path: Path, text: str) -> list[Finding]:
    (tmp_path / "prompts").symlink_to(BROKEN / "prompts")
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    return lint(load_flow(path))


HEADER = """
purpose: notification
locale: en-US
company: Example Co
start: hello
"""


def test_silent_hops_before_the_opt_out_are_fine(tmp_path: Path) -> None:
    flow = (BROKEN / "dead-end.yaml").read_text(encoding="utf-8")
    flow = flow.replace("  dtmf.9: opt_out", "  dtmf.9: note_reason")
    flow = flow.replace(
        "  thanks:  # lint: dead-end\n    say: [thanks]\n",
        "  thanks:\n    say: [thanks]\n    end: completed\n",
    )
    flow += "\n  note_reason:\n    do: [{set: {reason: nine}}]\n    next: opt_out\n"
    assert _lint_text(tmp_path, flow) == []


def test_a_flow_that_never_listens_cannot_honour_9(tmp_path: Path) -> None:
    flow = (
        HEADER
        + """
handlers: {dtmf.9: bye}
states:
  hello:
    say: [disclosure, thanks]
    next: bye
  bye:
    do: [opt_out]
    end: opted_out
"""
    )
    findings = _lint_text(tmp_path, flow)
    assert [(f.rule, f.line) for f in findings] == [("opt-out-reachable", 5)]
    assert "no state listens" in findings[0].message


def test_after_a_hangup_nothing_is_audible(tmp_path: Path) -> None:
    # The silent start listens; a hangup there leads to a state that speaks: nobody hears it,
    # so only the paths the callee is still on (9, silence) break the disclosure rule.
    flow = (
        HEADER
        + """
handlers: {dtmf.9: opt_out, intent.opt_out: opt_out, hangup: gone}
states:
  hello:
    listen: {dtmf: "1", timeout: 3}
    on: {dtmf.1: main, no_input: main, no_match: main}
  main:
    say: [disclosure, thanks]
    end: completed
  gone:
    say: [goodbye]
    end: hung_up
  opt_out:
    do: [opt_out]
    say: [opt_out_confirm]
    end: opted_out
"""
    )
    findings = _lint_text(tmp_path, flow)
    assert [(f.rule, f.message.split(" can ")[0]) for f in findings] == [
        ("disclosure-first", "prompt 'opt_out_confirm'")
    ]


def test_a_handoff_before_the_disclosure_is_audible_itself(tmp_path: Path) -> None:
    flow = (
        HEADER
        + """
handlers: {dtmf.9: opt_out, intent.opt_out: opt_out}
states:
  hello:
    do: [{handoff: {queue: sales, fallback: main}}]
  main:
    say: [disclosure, thanks]
    end: completed
  opt_out:
    do: [opt_out]
    end: opted_out
"""
    )
    findings = [f for f in _lint_text(tmp_path, flow) if f.rule == "disclosure-first"]
    assert [(f.line, f.col) for f in findings] == [(10, 11)]  # the `handoff` key
    assert findings[0].message.startswith("a handoff to queue 'sales' can be heard before")


def test_cli_prompts_option_overrides_where_prompts_are_found() -> None:
    flow_file = str(BROKEN / "disclosure-text.yaml")
    code, out, _ = _run("--prompts", str(prompts_dir()), flow_file)
    assert code == 1
    assert ": prompt-missing: prompt 'disclosure_unrecorded' is not in " in out
    assert "disclosure-" not in out.replace("disclosure-text.yaml", "")


VALID = FLOWS_VALID


@pytest.mark.parametrize("flow_file", sorted(VALID.glob("*.yaml")), ids=lambda p: p.stem)
def test_unusual_valid_flows_pass_without_any_finding(flow_file: Path) -> None:
    assert lint(load_flow(flow_file)) == []


def test_the_unusual_flows_are_what_they_claim() -> None:
    raw = (VALID / "bom-crlf.yaml").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    assert load_flow(VALID / "bom-crlf.yaml").flow.locale == "zh-TW"
    anchors = load_flow(VALID / "anchors.yaml").flow
    assert anchors.states["again"].listen == anchors.states["ask"].listen
    assert anchors.states["again"].on["dtmf.1"] == "thanks"  # merged from the anchor
    assert anchors.states["again"].on["dtmf.2"] == "goodbye"  # overridden after the merge
    traditional = (VALID / "prompts" / "zh-TW.yaml").read_text(encoding="utf-8")
    assert "錄音" in traditional and "录音" not in traditional


def test_json_findings_carry_the_counterexample_path() -> None:
    code, out, _ = _run("--json", str(BROKEN / "disclosure-first--voicemail.yaml"))
    assert code == 1
    (finding,) = json.loads(out)["findings"]
    assert finding["path"] == [
        {"event": "voicemail", "state": "leave_message", "during": None, "repeat": 1}
    ]
    assert finding["path_text"] == "voicemail: leave_message"
    # Where the state and prompt are written, by file name: the web designer shows messages.
    assert (
        "(state 'leave_message' at disclosure-first--voicemail.yaml:19; prompt "
        in (finding["message"])
    )
    assert str(BROKEN.parent) not in finding["message"]
    code, out, _ = _run("--json", str(BROKEN / "loop--no-match.yaml"))
    (finding,) = json.loads(out)["findings"]
    assert [s["event"] for s in finding["path"]][:3] == ["start", "no_match", "no_match"]
    assert finding["path"][2]["repeat"] == 2  # ask_again's retry, then no_match


def test_a_directory_without_flows_is_an_error(tmp_path: Path) -> None:
    code, out, err = _run(str(tmp_path))
    assert code == 2
    assert f"{tmp_path}:1:1: directory holds no flow (*.yaml)" in out
    assert "0 flows checked" in err


def test_simulate_says_where_an_unset_variable_fails_the_call() -> None:
    result = CliRunner().invoke(
        cli,
        ["flow", "simulate", str(BROKEN / "variable-defined.yaml"), "--input", "dtmf:2",
         "--contact", "name=Ann"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "the call fails here: prompt 'hello_name' needs variables ['title']" in result.stderr
    assert "variable-defined" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_answer_over_a_prompt_is_a_path_when_a_later_prompt_fails_the_call(
    tmp_path: Path,
) -> None:
    # `hello` fails on its second prompt ({amount} is only set later), but 9 pressed over the
    # disclosure leaves before it: that path reaches an opt-out state that speaks first.
    flow = (
        HEADER
        + """
handlers: {dtmf.9: late, hangup: gone}
states:
  hello:
    say: [disclosure, amount_due]
    listen: {dtmf: "1", timeout: 3}
    on: {dtmf.1: owed, no_input: owed, no_match: owed}
  owed:
    do: [{set: {amount: "10"}}]
    say: [amount_due]
    end: completed
  late:
    say: [opt_out_confirm]
    next: gone
  gone:
    end: hung_up
"""
    )
    traced = [f for f in _lint_text(tmp_path, flow) if f.trace and f.rule == "opt-out-reachable"]
    assert [[(s.event, s.state, s.during) for s in f.trace] for f in traced] == [
        [("start", "hello", None), ("dtmf.9", "late", "disclosure")]
    ]
