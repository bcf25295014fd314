"""A flow as a Mermaid flowchart, and as a standalone HTML page that renders it.

Reviewers (compliance, the business) read a diagram faster than YAML: where the call starts,
where the disclosure is said, how "9" leaves every listening state, where a busy agent queue
falls back. Global handlers are drawn once, from an "any listening state" node, instead of
from every listening state. The opt-out path is red, handoff fallbacks dashed orange,
endings rounded with their outcome.
"""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from voicebot.flow.lint.walk import EdgeKind, edges_from, opts_out_first
from voicebot.flow.loader import LoadedFlow
from voicebot.flow.model import OPT_OUT_DIGIT, Flow, State
from voicebot.outcomes import Outcome

MERMAID_VERSION = "11.4.1"
MERMAID_FILE = Path(__file__).resolve().parent / "vendor" / "mermaid.min.js"
"""The npm package's ``dist/mermaid.min.js``, vendored (``vendor/README.md``): no CDN."""
MERMAID_INTEGRITY = "sha384-rbtjAdnIQE/aQJGEgXrVUlMibdfTSa4PQju4HDhN3sR2PmaKFzhEafuePsl9H/9I"


@cache
def _mermaid_data_url() -> str:
    """The vendored script as a ``data:`` URL: the page stays one file that works offline, and
    the script's text never meets the HTML parser (no ``</script>`` or ``<!--`` surprises)."""
    return "data:text/javascript;base64," + base64.b64encode(MERMAID_FILE.read_bytes()).decode()


"""Subresource integrity of the pinned script, so the page runs exactly that file."""

START_NODE = "flow_start"
ANY_NODE = "any_listening"
HANDOFF_NODE = "outcome_handoff"
OPT_OUT_STYLE = "stroke:#c62828,stroke-width:3px,color:#c62828"
FALLBACK_STYLE = "stroke:#ef6c00,stroke-width:2px,color:#ef6c00"
MAX_PROMPTS_SHOWN = 3

CLASS_DEFS = {
    "terminal": "fill:#eceff1,stroke:#455a64",
    "optout": "fill:#ffebee,stroke:#c62828,color:#b71c1c",
    "handoff": "fill:#e8f5e9,stroke:#2e7d32",
    "listening": "fill:#e3f2fd,stroke:#1565c0",
    "handlers": "fill:#fffde7,stroke:#9e9d24,stroke-dasharray:4 3",
}


def node_id(state: str) -> str:
    """Mermaid id of a state; prefixed so names like ``end`` or ``graph`` stay legal."""
    return f"s_{state}"


def _text(value: str) -> str:
    """Escape text for a quoted Mermaid label."""
    return (
        value.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def _label(name: str, state: State) -> str:
    lines = [f"<b>{_text(name)}</b>"]
    for action in state.do:
        if action.set is not None:
            pairs = ", ".join(f"{k}={v}" for k, v in action.set.items())
            lines.append(f"set {_text(pairs)}")
        elif action.handoff is not None:
            lines.append(f"handoff to {_text(action.handoff.queue)}")
        elif action.kind != "hangup":  # shown last, as how the state ends
            lines.append(action.kind)
    if state.say:
        shown = ", ".join(state.say[:MAX_PROMPTS_SHOWN])
        more = ", …" if len(state.say) > MAX_PROMPTS_SHOWN else ""
        lines.append(f"say: {_text(shown)}{more}")
    if state.listen is not None:
        heard = [f"dtmf {' '.join(state.listen.dtmf)}"] if state.listen.dtmf else []
        heard += ["speech"] if state.listen.intents else []
        timeout = f", {state.listen.timeout:g} s" if state.listen.timeout is not None else ""
        lines.append(f"listen: {' + '.join(heard) or 'events'}{timeout}")
    if state.end is not None:
        lines.append(f"end: {state.end.value}")
    elif any(a.hangup for a in state.do):
        lines.append("hang up")
    return "<br/>".join(lines)


@dataclass
class _Chart:
    """Mermaid lines under construction, counting edges for ``linkStyle``."""

    lines: list[str] = field(default_factory=list)
    edges: int = 0
    styled: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def edge(
        self, source: str, target: str, label: str = "", arrow: str = "-->", style: str = ""
    ) -> None:
        text = f'|"{_text(label)}"|' if label else ""
        self.lines.append(f"  {source} {arrow}{text} {target}")
        if style:
            self.styled[style].append(self.edges)
        self.edges += 1


def _classes(flow: Flow, opt_out_states: set[str]) -> dict[str, list[str]]:
    classes: dict[str, list[str]] = defaultdict(list)
    for name, state in flow.states.items():
        if name in opt_out_states or any(a.opt_out for a in state.do):
            classes["optout"].append(node_id(name))
        elif any(a.handoff is not None for a in state.do):
            classes["handoff"].append(node_id(name))
        elif state.is_terminal:
            classes["terminal"].append(node_id(name))
        elif state.listen is not None:
            classes["listening"].append(node_id(name))
    return classes


def _opt_out_states(flow: Flow) -> set[str]:
    """States on the path that "9" takes: the handler's target and its silent ``next`` hops."""
    target = flow.handlers.get(f"dtmf.{OPT_OUT_DIGIT}")
    out: set[str] = set()
    while target is not None and target in flow.states and target not in out:
        out.add(target)
        state = flow.states[target]
        if opts_out_first(flow, target) is not None or any(a.opt_out for a in state.do):
            break
        target = state.next
    return out


def to_mermaid(flow: Flow, title: str | None = None) -> str:
    """The flow as a Mermaid ``flowchart TD`` (text a Markdown viewer or Mermaid JS renders)."""
    chart = _Chart()
    if title:
        chart.lines += ["---", f"title: {json.dumps(title, ensure_ascii=False)}", "---"]
    chart.lines.append("flowchart TD")
    chart.lines.append(f"  {START_NODE}((start))")
    listening = [name for name, s in flow.states.items() if s.listen is not None]
    if flow.handlers and listening:
        chart.lines.append(f'  {ANY_NODE}[/"<i>any listening state</i>"/]')
    has_handoff = any(a.handoff is not None for s in flow.states.values() for a in s.do)
    if has_handoff:
        chart.lines.append(f'  {HANDOFF_NODE}(["end: {Outcome.HANDOFF.value}"])')
    for name, state in flow.states.items():
        label = f'"{_label(name, state)}"'
        if state.is_terminal:
            shape = f"([{label}])"
        elif any(a.handoff is not None for a in state.do):
            shape = f"{{{{{label}}}}}"
        else:
            shape = f"[{label}]"
        chart.lines.append(f"  {node_id(name)}{shape}")

    opt_out_states = _opt_out_states(flow)
    chart.edge(START_NODE, node_id(flow.start))
    for name, state in flow.states.items():
        by_target: dict[str, list[str]] = defaultdict(list)
        for edge in edges_from(flow, name):
            if edge.kind is EdgeKind.HANDLER:
                continue  # drawn once, from the "any listening state" node
            if edge.kind is EdgeKind.FALLBACK:
                chart.edge(node_id(name), node_id(edge.target), "no agent", "-.->", FALLBACK_STYLE)
            elif edge.kind is EdgeKind.NEXT:
                chart.edge(node_id(name), node_id(edge.target))
            elif edge.event is not None:
                by_target[edge.target].append(edge.event)
        for target, events in by_target.items():
            chart.edge(node_id(name), node_id(target), " / ".join(events))
        if any(a.handoff is not None for a in state.do):
            chart.edge(node_id(name), HANDOFF_NODE, "agent accepts")
    if flow.handlers and listening:
        handled: dict[str, list[str]] = defaultdict(list)
        for event, target in flow.handlers.items():
            handled[target].append(event)
        for target, events in handled.items():
            opt_out = target in opt_out_states
            chart.edge(
                ANY_NODE,
                node_id(target),
                " / ".join(events),
                "==>" if opt_out else "-->",
                OPT_OUT_STYLE if opt_out else "",
            )

    for css_class, style in CLASS_DEFS.items():
        chart.lines.append(f"  classDef {css_class} {style}")
    classes = _classes(flow, opt_out_states)
    if flow.handlers and listening:
        classes["handlers"].append(ANY_NODE)
    if has_handoff:
        classes["terminal"].append(HANDOFF_NODE)
    for css_class, nodes in classes.items():
        chart.lines.append(f"  class {','.join(nodes)} {css_class}")
    for style, indices in chart.styled.items():
        chart.lines.append(f"  linkStyle {','.join(map(str, indices))} {style}")
    return "\n".join(chart.lines) + "\n"


def to_html(loaded: LoadedFlow) -> str:
    """A standalone page: the flow's facts, the rendered diagram, and its Mermaid source.

    The pinned Mermaid script is embedded (vendored, no CDN), so the diagram renders with no
    internet; the source stays readable below it.
    """
    flow = loaded.flow
    source = to_mermaid(flow, loaded.name)
    title = f"Flow {loaded.name}"
    facts = [
        ("Purpose", flow.purpose.value),
        ("Locale", flow.locale),
        ("Company", flow.company),
        ("Start", flow.start),
        ("Disclosure", flow.disclosure),
        ("File", loaded.path.name),
    ]
    rows = "\n".join(
        f"      <tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts
    )
    description = f"    <p>{html.escape(flow.description)}</p>\n" if flow.description else ""
    escaped = html.escape(source)
    return f"""<!DOCTYPE html>
<html lang="{html.escape(flow.locale)}">
<head>
  <meta charset="utf-8">
  <title>{html.escape(title)}</title>
  <style>
    body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #212121; }}
    table {{ border-collapse: collapse; margin-bottom: 1.5rem; }}
    th, td {{ text-align: left; padding: 0.2rem 1rem 0.2rem 0; }}
    pre.source {{ background: #f5f5f5; padding: 1rem; overflow-x: auto; }}
    .legend span {{ margin-right: 1.5rem; }}
  </style>
</head>
<body>
  <header>
    <h1>{html.escape(title)}</h1>
{description}    <table>
{rows}
    </table>
    <p class="legend"><span style="color:#c62828">&#9632; opt-out path ({OPT_OUT_DIGIT})</span>
      <span style="color:#ef6c00">&#9632; handoff fallback</span>
      <span>rounded: the call ends (outcome)</span></p>
  </header>
  <main>
    <pre class="mermaid">
{escaped}</pre>
    <details><summary>Mermaid source</summary>
    <pre class="source" id="mermaid-source">
{escaped}</pre></details>
  </main>
  <script src="{_mermaid_data_url()}"></script>
  <script>
    if (window.mermaid) {{ mermaid.initialize({{ startOnLoad: true, securityLevel: "strict" }}); }}
  </script>
</body>
</html>
"""
