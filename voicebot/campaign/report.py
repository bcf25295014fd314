"""The HTML campaign report: one self-contained file that opens in any browser, offline.

No scripts and no external assets: inline CSS and SVG only, so the report can be mailed,
archived with the campaign, or shown to an auditor without a server.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from voicebot.campaign.results import CallResult, CampaignResults

_COLOURS = {
    "completed": "#2e7d32",
    "handoff": "#1565c0",
    "callback": "#00838f",
    "opted_out": "#6a1b9a",
    "refused": "#c62828",
    "no_response": "#8d6e63",
    "hung_up": "#ef6c00",
    "voicemail": "#5d4037",
    "no_answer": "#9e9e9e",
    "busy": "#757575",
    "rejected": "#ad1457",
    "failed": "#212121",
    "blocked": "#f9a825",
}

LEGEND = {
    "completed": "the flow ran to its planned end (message delivered, survey answered)",
    "handoff": "a human agent took the call",
    "handoff (no agent)": "the callee asked for a person, no agent took it; the flow fell back",
    "callback": "the callee asked to be called back; a callback is planned",
    "opted_out": "the callee asked never to be called again (9 or spoken): do-not-call",
    "refused": "the callee said no; it goes to the review queue",
    "no_response": "answered, but no usable answer within the retries",
    "hung_up": "the callee hung up before the flow ended",
    "voicemail": "an answering machine picked up",
    "no_answer": "rang until the ring timeout",
    "busy": "the line was busy",
    "rejected": "the callee declined the ringing call",
    "failed": "the call could not be placed or broke for a technical reason",
    "blocked": "the compliance gate refused the dial (reason in the row); not called",
}
"""What each status means, for the report's legend."""

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#222;
max-width:72rem}
h1{margin-bottom:.2rem} .meta{color:#555;margin-top:0}
table{border-collapse:collapse;width:100%;margin:1rem 0} th,td{border-bottom:1px solid #ddd;
padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.92rem}
th{background:#f5f5f5} .tag{display:inline-block;padding:.05rem .45rem;border-radius:.6rem;
color:#fff;font-size:.8rem} .warn{background:#fff3e0;
border-left:4px solid #ef6c00;padding:.5rem 1rem}
details summary{cursor:pointer} .tl{font-family:ui-monospace,monospace;font-size:.8rem;color:#333}
.tl td{font-size:.8rem;padding:.1rem .4rem} .ok{color:#2e7d32} .bad{color:#c62828;font-weight:600}
dl.legend{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dl.legend dd{margin:0;color:#444} .rates{display:flex;gap:2rem;font-size:1.1rem}
"""


def render_report(results: CampaignResults) -> str:
    """The report as an HTML document."""
    counts = Counter(c.shown_status for c in results.calls)
    reasons = results.block_reasons()
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Campaign {escape(results.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Campaign {escape(results.name)}</h1>",
        f"<p class='meta'>flow <b>{escape(results.flow)}</b> · purpose {escape(results.purpose)} · "
        f"started {escape(results.started_at.isoformat(timespec='seconds'))}"
        + (
            f" · {'finished' if results.finished else 'stopped'} "
            f"{escape(results.finished_at.isoformat(timespec='seconds'))}"
            if results.finished_at
            else ""
        )
        + f" · {len(results.calls)} contacts</p>",
    ]
    if results.pending:
        parts.append(
            f"<p class='warn'>Not finished: {len(results.pending)} contact(s) still planned. "
            "Run the campaign again to continue.</p>"
            + _table(
                ["number", "contact", "due", "why"],
                [
                    [escape(p.number), escape(p.label), _when(p.due_at, None), escape(p.why)]
                    for p in results.pending
                ],
            )
        )
    if results.dev_override:
        parts.append("<p class='warn'>Run with <b>--dev</b>: the flow was not approved.</p>")
    parts.append("<h2>Outcomes</h2>" + _bar_chart(dict(counts.most_common())))
    parts.append(
        "<div class='rates'>"
        + "".join(
            f"<div>{escape(name)} rate <b>{share:.0%}</b></div>"
            for name, share in results.rates().items()
        )
        + "</div><p class='meta'>answer: of the dialled calls; the others: of the answered.</p>"
    )
    parts.append(
        "<details><summary>What the outcomes mean</summary><dl class='legend'>"
        + "".join(f"<dt>{_tag(k)}</dt><dd>{escape(v)}</dd>" for k, v in LEGEND.items())
        + "</dl></details>"
    )
    expected = [c for c in results.calls if c.expected is not None]
    if expected:
        good = sum(1 for c in expected if c.as_expected)
        parts.append(
            f"<h2>Expected vs actual</h2><p>{good} of {len(expected)} as expected.</p>"
            + _table(
                ["number", "contact", "expected", "actual", ""],
                [
                    [
                        escape(c.number),
                        escape(c.label),
                        escape(c.expected or ""),
                        _tag(c.shown_status),
                        _check(bool(c.as_expected)),
                    ]
                    for c in expected
                ],
            )
        )
    source = "the gate's audit" if results.blocks is not None else "this run"
    parts.append(f"<h2>Compliance blocks</h2><p class='meta'>Counted from {source}.</p>")
    if reasons:
        parts.append(
            _table(["reason", "dials"], [[escape(r), str(n)] for r, n in reasons.most_common()])
        )
    else:
        parts.append("<p>No dial was blocked.</p>")
    if results.import_problems:
        parts.append(
            "<h2>Contact import</h2><ul>"
            + "".join(f"<li>{escape(p)}</li>" for p in results.import_problems)
            + "</ul>"
        )
    qa = [c for c in results.calls if c.qa_failures]
    if qa:
        parts.append(
            "<h2>QA failures</h2>"
            + _table(
                ["number", "checks failed"],
                [[escape(c.number), escape(", ".join(c.qa_failures))] for c in qa],
            )
        )
    parts.append(
        "<h2>Calls</h2>"
        + _table(
            ["number", "contact", "at (callee's local time)", "status", "talk", "details"],
            [_call_row(c) for c in results.calls],
        )
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(results: CampaignResults, path: Path) -> Path:
    """Write the report to ``path`` (parents created) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(results), encoding="utf-8")
    return path


def _tag(status: str) -> str:
    colour = _COLOURS.get(status, "#455a64")
    return f"<span class='tag' style='background:{colour}'>{escape(status)}</span>"


def _call_row(call: CallResult) -> list[str]:
    if call.blocked:
        detail = "blocked: " + escape(", ".join(call.blocked))
        if call.not_before is not None:
            detail += f"; not before {escape(call.not_before.isoformat(timespec='minutes'))}"
    elif call.timeline:
        rows = "".join(
            f"<tr><td>{e.t:.2f}s</td><td>{escape(e.kind)}</td><td>{escape(e.text)}</td></tr>"
            for e in call.timeline
        )
        detail = (
            f"<details><summary>timeline ({len(call.timeline)})</summary>"
            f"<table class='tl'>{rows}</table></details>"
        )
    else:
        detail = ""
    return [
        escape(call.number),
        escape(call.label),
        _when(call.at, call.zone),
        _tag(call.shown_status),
        f"{call.talk_seconds:.1f}s" if call.outcome else "",
        detail,
    ]


def _when(at: datetime | None, zone: str | None) -> str:
    """A time in the callee's zone, with the zone named (UTC when the zone is unknown)."""
    if at is None:
        return ""
    local = at.astimezone(ZoneInfo(zone)) if zone else at
    name = zone or "UTC"
    return f"{escape(local.strftime('%Y-%m-%d %H:%M:%S'))} <small>{escape(name)}</small>"


def _check(ok: bool) -> str:
    return "<span class='ok'>✓</span>" if ok else "<span class='bad'>✗ not as expected</span>"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _bar_chart(counts: dict[str, int]) -> str:
    if not counts:
        return "<p>No calls.</p>"
    width, bar_h, label_w = 640, 22, 110
    top = max(counts.values())
    rows = []
    for i, (status, n) in enumerate(counts.items()):
        y = i * (bar_h + 6)
        w = max(2, int((width - label_w - 50) * n / top))
        colour = _COLOURS.get(status, "#455a64")
        rows.append(
            f"<text x='0' y='{y + 16}' font-size='13'>{escape(status)}</text>"
            f"<rect x='{label_w}' y='{y}' width='{w}' height='{bar_h}' fill='{colour}'/>"
            f"<text x='{label_w + w + 6}' y='{y + 16}' font-size='13'>{n}</text>"
        )
    height = len(counts) * (bar_h + 6)
    return (
        f"<svg role='img' aria-label='outcomes' width='{width}' height='{height}' "
        f"xmlns='http://www.w3.org/2000/svg'>{''.join(rows)}</svg>"
    )
