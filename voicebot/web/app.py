"""The web application factory: composes the store, auth, RBAC, routes and metrics into one app.

Composition, not subclassing: :func:`create_app` builds a plain ``web.Application``, puts what
handlers share under typed ``AppKey``s (:mod:`voicebot.web.keys`), stacks the middlewares
(security headers and metrics outermost, then the encrypted session, then RBAC, then the
validation of path and query parameters) and registers
every route of :data:`voicebot.web.rbac.ROUTES`. The call side reaches the handoff queue through
``app[HANDOFF_QUEUE]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web, web_response
from aiohttp.typedefs import Handler as NextHandler
from aiohttp.typedefs import Middleware
from aiohttp_session import setup as setup_session

from voicebot.handoff import AgentDesk
from voicebot.privacy.retention import RetentionPolicy, run_daily
from voicebot.privacy.vault.vault import Vault
from voicebot.resources import flows_dir
from voicebot.store import Store
from voicebot.web.auth import Passwords, session_storage
from voicebot.web.inputs import inputs_middleware
from voicebot.web.keys import (
    CLOCK,
    DESK,
    FLOWS_DIR,
    HANDOFF_QUEUE,
    LIMITER,
    METRICS,
    PASSWORDS,
    PRESENCE,
    ROUTE_TABLE,
    STORE,
    VAULT,
    Clock,
)
from voicebot.web.metrics import WebMetrics
from voicebot.web.ratelimit import LoginLimiter
from voicebot.web.rbac import ROUTES, rbac_middleware, spec_index
from voicebot.web.routespec import RouteSpec

# No inline script or style, nothing from another origin, no framing.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


# Browsers that once reached the console over HTTPS refuse plain HTTP to it for a year.
HSTS = "max-age=31536000; includeSubDomains"
SERVER = "voicebot"
"""The ``Server`` header: no Python or aiohttp version for a probe to match against CVEs."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class WebConfig:
    """What the app needs besides the store.

    Attributes:
        session_key: Fernet key (urlsafe base64 of 32 bytes) sealing session cookies.
        tls: whether the app is served over TLS (then cookies are ``Secure``).
        flows_dir: where the flows listed to designers live.
        passwords: the hasher (tests pass :meth:`Passwords.fast_for_tests`).
        limiter: login rate limiter.
        desk: the agent desk: its queue the call side feeds, its presence the console sets.
        clock: the current instant (tests drive it).
        routes: the route table (the default is the app's; tests may not change it).
        vault: encrypted recordings and transcripts (erasure and retention reach into it).
        retention: if set, the server purges what outlived it now and then daily.
    """

    session_key: bytes
    tls: bool = False
    flows_dir: Path = field(default_factory=flows_dir)
    passwords: Passwords = field(default_factory=Passwords)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    desk: AgentDesk = field(default_factory=AgentDesk)
    clock: Clock = _utcnow
    routes: tuple[RouteSpec, ...] = ROUTES
    vault: Vault | None = None
    retention: RetentionPolicy | None = None


def _daily_retention(
    policy: RetentionPolicy,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running the retention purge now and daily while the server runs."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run_daily(app[STORE], app[VAULT], policy))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context


def _no_version_banner() -> None:
    """Make aiohttp's default ``Server`` header ours, process-wide.

    :func:`_transport_headers` sets it on every response the app prepares, but aiohttp answers a
    malformed request (a bad header line, a bad method) before any app sees it, with its default
    ``Python/3.x aiohttp/3.y``; that default is a module attribute read at each response.
    """
    web_response.SERVER_SOFTWARE = SERVER  # type: ignore[attr-defined]  # private, read per response


def create_app(store: Store, config: WebConfig) -> web.Application:
    """A ready-to-run app over an open store (the caller closes the store)."""
    _no_version_banner()
    metrics = WebMetrics()
    app = web.Application(middlewares=[_observe(metrics)], client_max_size=64 * 1024)
    app[STORE] = store
    app[PASSWORDS] = config.passwords
    app[LIMITER] = config.limiter
    app[DESK] = config.desk
    app[HANDOFF_QUEUE] = config.desk.queue
    app[PRESENCE] = config.desk.presence
    app[METRICS] = metrics
    app[FLOWS_DIR] = config.flows_dir
    app[CLOCK] = config.clock
    app[ROUTE_TABLE] = config.routes
    app[VAULT] = config.vault
    if config.retention is not None:
        app.cleanup_ctx.append(_daily_retention(config.retention))
    app.on_response_prepare.append(_transport_headers)
    setup_session(app, session_storage(config.session_key, secure=config.tls))
    app.middlewares.append(rbac_middleware(spec_index(config.routes)))
    app.middlewares.append(inputs_middleware())
    for spec in config.routes:
        app.router.add_route(spec.method, spec.path, spec.handler, name=spec.operation_id)
    return app


def _observe(metrics: WebMetrics) -> Middleware:
    @web.middleware
    async def observe(request: web.Request, handler: NextHandler) -> web.StreamResponse:
        started = time.perf_counter()
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
        except web.HTTPException as exc:
            status = exc.status
            _secure_headers(exc, request)
            raise
        finally:
            metrics.requests.labels(template, request.method, str(status)).inc()
            metrics.latency.labels(template).observe(time.perf_counter() - started)
        _secure_headers(response, request)
        return response

    return observe


async def _transport_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, error pages included: HSTS when the connection is TLS (over plain
    HTTP browsers ignore it, RFC 6797), and a ``Server`` header that names no versions."""
    response.headers["Server"] = SERVER
    if request.secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)


def _secure_headers(response: web.StreamResponse, request: web.Request) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", _CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
