"""The flows a designer can see: the listing, one flow's YAML with its lint findings and approval
status, its Mermaid graph, and the approved prompt texts of a locale. Read-only.

Each file is loaded with the real loader, so a broken flow shows its ``file:line:col`` error
instead of disappearing from the list. Files are found by name in the server's flows
directory only; a name is never a path.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from voicebot.flow.approval import NotApproved, UnapprovableFlow, check_approved
from voicebot.flow.graph import to_mermaid
from voicebot.flow.lint import lint
from voicebot.flow.loader import LoadedFlow, default_prompts_dir, load_flow
from voicebot.flow.prompts import PromptCatalog
from voicebot.web.context import error
from voicebot.web.keys import FLOWS_DIR, STORE

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


def _describe(path: Path) -> dict[str, Any]:
    try:
        loaded = load_flow(path)
    except Exception as exc:  # any load error is shown, not raised: the listing must go on
        return {"file": path.name, "error": str(exc)}
    flow = loaded.flow
    return {
        "file": path.name,
        "name": flow.name or path.stem,
        "purpose": str(flow.purpose),
        "locale": flow.locale,
        "company": flow.company,
        "states": len(flow.states),
        "description": flow.description,
    }


def describe_flows(directory: Path) -> list[dict[str, Any]]:
    """Every ``*.yaml`` flow in ``directory``, by file name."""
    return [_describe(p) for p in sorted(directory.glob("*.yaml"))]


async def get_flows(request: web.Request) -> web.Response:
    """The flows in the server's flows directory, with their load errors."""
    flows = await asyncio.to_thread(describe_flows, request.app[FLOWS_DIR])
    return web.json_response({"flows": flows})


def _flow_file(request: web.Request) -> Path | web.Response:
    """``<name>.yaml`` in the flows directory, or the error answer."""
    name = request.match_info["name"]
    if not _NAME.match(name):
        return error(400, "validation", f"{name!r} is not a flow name (letters, digits, _ and -)")
    path: Path = request.app[FLOWS_DIR] / f"{name}.yaml"
    if not path.is_file():
        return error(404, "not_found", f"no flow file {name}.yaml")
    return path


def _load_and_lint(path: Path) -> tuple[str, LoadedFlow | None, list[dict[str, Any]], str | None]:
    text = path.read_text(encoding="utf-8")
    try:
        loaded = load_flow(path)
    except Exception as exc:  # shown to the designer, like the listing does
        return text, None, [], str(exc)
    return text, loaded, [f.as_dict() for f in lint(loaded)], None


async def _approval(request: web.Request, loaded: LoadedFlow) -> dict[str, Any]:
    try:
        approval = await check_approved(loaded, request.app[STORE])
    except NotApproved as exc:
        return {"status": "not_approved", "changes": list(exc.changes)}
    except UnapprovableFlow as exc:
        return {"status": "unapprovable", "changes": [str(exc)]}
    return {
        "status": "approved",
        "reviewer": approval.reviewer,
        "approved_at": approval.approved_at.isoformat(),
        "hash": approval.digest,
    }


async def get_flow(request: web.Request) -> web.Response:
    """One flow: its YAML text, its lint findings and whether it is approved as it is now."""
    path = _flow_file(request)
    if isinstance(path, web.Response):
        return path
    text, loaded, findings, load_error = await asyncio.to_thread(_load_and_lint, path)
    body: dict[str, Any] = {
        "file": path.name,
        "name": loaded.name if loaded else path.stem,
        "yaml": text,
        "error": load_error,
        "lint": findings,
        "approval": await _approval(request, loaded) if loaded else None,
    }
    return web.json_response(body)


async def get_flow_graph(request: web.Request) -> web.Response:
    """One flow as a Mermaid flowchart (text/plain)."""
    path = _flow_file(request)
    if isinstance(path, web.Response):
        return path
    try:
        loaded = await asyncio.to_thread(load_flow, path)
    except Exception as exc:  # a flow that does not load has no graph: say why
        return error(422, "flow_invalid", str(exc))
    return web.Response(text=to_mermaid(loaded.flow, loaded.name), content_type="text/plain")


async def get_prompts(request: web.Request) -> web.Response:
    """The approved prompt texts of one locale, as the server's flows use them."""
    locale = request.match_info["locale"]
    if not _LOCALE.match(locale):
        return error(400, "validation", f"{locale!r} is not a locale (like en-US or zh-CN)")
    directory = default_prompts_dir(request.app[FLOWS_DIR] / "flow.yaml")
    if not (directory / f"{locale}.yaml").is_file():
        return error(404, "not_found", f"no prompts for locale {locale}")
    try:
        catalog = await asyncio.to_thread(PromptCatalog.load, directory, locale)
    except Exception as exc:  # a malformed prompt file: show where
        return error(422, "prompts_invalid", str(exc))
    return web.json_response({"locale": locale, "prompts": dict(catalog.texts)})
