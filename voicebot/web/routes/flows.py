"""The flows a designer can see (``/api/flows``): a read-only listing of the flows directory.

Each file is loaded with the real loader, so a broken flow shows its ``file:line:col`` error
instead of disappearing from the list. Editing comes later.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from voicebot.flow.loader import load_flow
from voicebot.web.keys import FLOWS_DIR


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
