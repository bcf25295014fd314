"""HTML pages and their assets (no build step, no CDN), ``/metrics`` and ``/api/openapi.json``.

The pages are static shells; everything they show comes from the JSON API, under the same RBAC
rules. Assets are served from a fixed list of files, never from a path the client chose.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from pydantic import Field

from voicebot.web.inputs import Params, path_params
from voicebot.web.keys import METRICS, ROUTE_TABLE
from voicebot.web.metrics import metrics_response
from voicebot.web.openapi import openapi_document

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_ASSET = r"^[a-z0-9_-]+\.(css|js|svg)$"
_TYPES = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}


class AssetPath(Params):
    """An asset is named by its file name, from a fixed set of kinds."""

    name: str = Field(pattern=_ASSET)


def _page(name: str) -> web.FileResponse:
    response = web.FileResponse(STATIC_DIR / name)
    response.headers["Cache-Control"] = "no-store"
    return response


async def index(request: web.Request) -> web.Response:
    """The root sends people to the console (which sends the signed-out to the login page)."""
    raise web.HTTPFound("/console")


async def login_page(request: web.Request) -> web.FileResponse:
    """The sign-in page."""
    return _page("login.html")


async def console_page(request: web.Request) -> web.FileResponse:
    """The agent console shell: presence and the waiting calls."""
    return _page("console.html")


async def admin_page(request: web.Request) -> web.FileResponse:
    """The admin shell: accounts and the audit log."""
    return _page("admin.html")


async def audit_page(request: web.Request) -> web.FileResponse:
    """The auditor shell: campaigns, their reports, calls, transcripts and recordings."""
    return _page("audit.html")


async def static_asset(request: web.Request) -> web.FileResponse:
    """A stylesheet or script of the pages."""
    name = path_params(request, AssetPath).name
    path = STATIC_DIR / name
    if not path.is_file():
        raise web.HTTPNotFound()
    response = web.FileResponse(path)
    response.content_type = _TYPES[name.rsplit(".", 1)[1]]
    return response


async def get_metrics(request: web.Request) -> web.Response:
    """Prometheus metrics (loopback clients only, see ``voicebot.web.metrics``)."""
    return metrics_response(request.app[METRICS])


async def get_openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this API, generated from the route table."""
    routes = request.app[ROUTE_TABLE]
    return web.json_response(openapi_document(routes))
