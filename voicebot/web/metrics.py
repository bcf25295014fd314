"""Prometheus metrics of the web app, on a registry of its own, served at ``/metrics``.

Decision: ``/metrics`` needs no login (scrapers carry no session) but answers only clients on the
loopback interface (127.0.0.0/8, ::1); anyone else gets 403. The server binds 127.0.0.1 by default;
a deployment that exposes the console must scrape from the same host, and a reverse proxy in
front must not forward ``/metrics`` (it would appear as a loopback client). The series carry no
user names or numbers: only route templates, methods, status codes and counts.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest


class WebMetrics:
    """The app's series; one instance per application, so several apps (tests) never clash."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "voicebot_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "voicebot_http_request_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            registry=self.registry,
        )
        self.logins = Counter(
            "voicebot_logins",
            "Sign-in attempts by result (ok, failed, locked, totp_required).",
            ["result"],
            registry=self.registry,
        )
        self.agents_available = Gauge(
            "voicebot_agents_available",
            "Agents whose console is set to available.",
            registry=self.registry,
        )
        self.handoffs_waiting = Gauge(
            "voicebot_handoffs_waiting",
            "Calls waiting for an agent.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format of every series."""
        return generate_latest(self.registry)


def is_loopback(remote: str | None) -> bool:
    """Whether a peer address is on the loopback interface (unknown peers are not)."""
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def metrics_response(metrics: WebMetrics) -> web.Response:
    """The ``/metrics`` body with Prometheus's content type."""
    body = metrics.render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
