"""The Mermaid graph: every state a node, every way out an edge, the opt-out path and handoff
fallbacks styled, and the HTML page carrying the source. The Mermaid text is parsed here in
structure (declared nodes, edges between them, styles pointing at real edges)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.paths import FLOWS_BROKEN
from voicebot.cli import cli
from voicebot.flow.graph import (
    ANY_NODE,
    HANDOFF_NODE,
    MERMAID_FILE,
    MERMAID_INTEGRITY,
    START_NODE,
    node_id,
    to_html,
    to_mermaid,
)
from voicebot.flow.loader import load_flow
from voicebot.flow.model import Flow
from voicebot.resources import flows_dir
from voicebot.yamlsource import parse_yaml

EXAMPLES = sorted(flows_dir().glob("*.yaml"))
NODE = re.compile(r'^  (\w+)(\(\(|\[/|\(\[|\{\{|\[)(?:"(.*)"|(\w+))(\)\)|/\]|\]\)|\}\}|\])$')
EDGE = re.compile(r'^  (\w+) (-->|==>|-\.->)(?:\|"([^"|]*)"\|)? (\w+)$')
STYLE = re.compile(r"^  (classDef|class|linkStyle) (\S+) (\S.*)$")


@dataclass
class Chart:
    nodes: dict[str, tuple[str, str]]
    """id -> (opening bracket, label)."""
    edges: list[tuple[str, str, str, str]]
    """(source, arrow, label, target) in order."""
    classes: dict[str, set[str]]
    link_styles: dict[int, str]


def parse(text: str) -> Chart:
    """Parse the subset of Mermaid the exporter writes; fail on any other line."""
    lines = text.splitlines()
    if lines[0] == "---":
        end = lines.index("---", 1)
        lines = lines[end + 1 :]
    assert lines[0] == "flowchart TD"
    chart = Chart({}, [], {}, {})
    class_defs: set[str] = set()
    for line in lines[1:]:
        if match := NODE.match(line):
            assert match[1] not in chart.nodes, f"node declared twice: {line}"
            chart.nodes[match[1]] = (match[2], match[3] or match[4])
        elif match := EDGE.match(line):
            chart.edges.append((match[1], match[2], match[3] or "", match[4]))
        elif match := STYLE.match(line):
            kind, first, second = match.groups()
            if kind == "classDef":
                class_defs.add(first)
            elif kind == "class":
                assert second in class_defs, line
                chart.classes[second] = set(first.split(","))
            else:
                for index in first.split(","):
                    chart.link_styles[int(index)] = second
        else:
            raise AssertionError(f"unexpected Mermaid line: {line!r}")
    for source, _, _, target in chart.edges:
        assert source in chart.nodes, f"edge from undeclared node {source}"
        assert target in chart.nodes, f"edge to undeclared node {target}"
    for members in chart.classes.values():
        assert members <= chart.nodes.keys()
    assert all(0 <= i < len(chart.edges) for i in chart.link_styles)
    return chart


def _edge(chart: Chart, source: str, target: str) -> tuple[str, str]:
    found = [(arrow, label) for s, arrow, label, t in chart.edges if (s, t) == (source, target)]
    assert len(found) == 1, (source, target, chart.edges)
    return found[0]


@pytest.mark.parametrize("flow_file", EXAMPLES, ids=lambda p: p.stem)
def test_every_state_is_a_node_and_every_way_out_an_edge(flow_file: Path) -> None:
    flow = load_flow(flow_file).flow
    chart = parse(to_mermaid(flow))
    assert {node_id(n) for n in flow.states} <= chart.nodes.keys()
    assert (START_NODE, "-->", "", node_id(flow.start)) in chart.edges
    for name, state in flow.states.items():
        label = chart.nodes[node_id(name)][1]
        assert label.startswith(f"<b>{name}</b>")
        if state.say:
            assert state.say[0] in label
        if state.end is not None:
            assert f"end: {state.end.value}" in label
            assert chart.nodes[node_id(name)][0] == "(["  # rounded: the call ends here
        for event, target in state.on.items():
            assert event in _edge(chart, node_id(name), node_id(target))[1].split(" / ")
        if state.next is not None:
            assert _edge(chart, node_id(name), node_id(state.next)) == ("-->", "")
    # Global handlers are drawn once, from one node, not from every listening state.
    for event, target in flow.handlers.items():
        assert event in _edge(chart, ANY_NODE, node_id(target))[1].split(" / ")
    handler_edges = [e for e in chart.edges if e[2] and "dtmf.9" in e[2].split(" / ")]
    assert [e[0] for e in handler_edges] == [ANY_NODE]


def test_opt_out_path_and_fallback_are_styled() -> None:
    chart = parse(to_mermaid(load_flow(flows_dir() / "marketing_offer.yaml").flow))
    opt_out = chart.edges.index((ANY_NODE, "==>", "dtmf.9 / intent.opt_out", "s_opt_out"))
    assert "#c62828" in chart.link_styles[opt_out]
    fallback = chart.edges.index(("s_transfer", "-.->", "no agent", "s_offer_callback"))
    assert "#ef6c00" in chart.link_styles[fallback]
    assert ("s_transfer", "-->", "agent accepts", HANDOFF_NODE) in chart.edges
    assert chart.nodes["s_transfer"][0] == "{{"
    assert "s_opt_out" in chart.classes["optout"]
    assert "s_pitch" in chart.classes["listening"]
    assert len(chart.link_styles) == 2  # nothing else is highlighted


def test_names_that_are_mermaid_keywords_and_odd_text_stay_legal() -> None:
    text = """
purpose: survey
locale: en-US
company: 'Q"uote <Co>'
start: end
handlers: {dtmf.9: graph}
states:
  end:
    say: [disclosure]
    listen: {dtmf: "1", timeout: 3}
    on: {dtmf.1: class, no_input: class, no_match: class}
  class:
    do: [{set: {note: 'a "b" <c>'}}, hangup]
  graph:
    do: [opt_out]
    end: opted_out
"""
    flow = Flow.model_validate(parse_yaml(text).data)
    mermaid = to_mermaid(flow, 'A "title"')
    chart = parse(mermaid)
    assert {"s_end", "s_class", "s_graph"} <= chart.nodes.keys()
    assert '"' not in chart.nodes["s_class"][1]
    assert "#quot;" in chart.nodes["s_class"][1]
    assert "hang up" in chart.nodes["s_class"][1]
    assert mermaid.startswith('---\ntitle: "A \\"title\\""\n---\n')


def test_html_page_has_facts_diagram_and_readable_source() -> None:
    loaded = load_flow(flows_dir() / "payment_reminder.yaml")
    page = to_html(loaded)
    source = to_mermaid(loaded.flow, loaded.name)
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Flow payment_reminder</title>" in page
    for fact in ("notification", "zh-CN", "示例银行信用卡中心"):
        assert f"<td>{fact}</td>" in page
    assert page.count(html.escape(source)) == 2  # rendered by Mermaid, and shown as source
    assert f'<pre class="source" id="mermaid-source">\n{html.escape(source)}</pre>' in page
    # The pinned Mermaid is embedded: nothing is fetched from a CDN.
    assert '<script src="data:text/javascript;base64,' in page
    assert "cdn." not in page and 'src="http' not in page
    digest = base64.b64encode(hashlib.sha384(MERMAID_FILE.read_bytes()).digest()).decode()
    assert f"sha384-{digest}" == MERMAID_INTEGRITY  # the vendored file is the pinned release
    assert (
        (MERMAID_FILE.parent / "mermaid.LICENSE")
        .read_text(encoding="utf-8")
        .startswith("The MIT License")
    )


def test_cli_prints_mermaid_and_writes_html(tmp_path: Path) -> None:
    runner = CliRunner()
    flow_file = flows_dir() / "satisfaction_survey.yaml"
    printed = runner.invoke(cli, ["flow", "graph", str(flow_file)])
    assert printed.exit_code == 0
    parse(printed.stdout)
    out = tmp_path / "survey.html"
    written = runner.invoke(cli, ["flow", "graph", str(flow_file), "--html", str(out)])
    assert written.exit_code == 0
    assert html.escape(printed.stdout) in out.read_text(encoding="utf-8")


def test_cli_load_error_exits_2() -> None:
    broken = FLOWS_BROKEN / "load-wrong-type.yaml"
    result = CliRunner().invoke(cli, ["flow", "graph", str(broken)])
    assert result.exit_code == 2
    assert "load-wrong-type.yaml:18:7: states.ask.listen.timeout" in result.stderr
