"""Typed keys for what the web app shares between handlers (aiohttp ``AppKey``/``RequestKey``).

In a module of their own so that route modules and the application factory can both import them
without importing each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from voicebot.handoff import AgentDesk, HandoffQueue, PresenceBoard
from voicebot.privacy.vault.vault import Vault
from voicebot.store import Store
from voicebot.store.users import User
from voicebot.web.auth import Passwords
from voicebot.web.metrics import WebMetrics
from voicebot.web.ratelimit import LoginLimiter
from voicebot.web.routespec import RouteSpec

Clock = Callable[[], dt.datetime]

STORE = web.AppKey("store", Store)
PASSWORDS = web.AppKey("passwords", Passwords)
LIMITER = web.AppKey("limiter", LoginLimiter)
DESK = web.AppKey("desk", AgentDesk)
HANDOFF_QUEUE = web.AppKey("handoff_queue", HandoffQueue)
PRESENCE = web.AppKey("presence", PresenceBoard)
METRICS = web.AppKey("metrics", WebMetrics)
FLOWS_DIR = web.AppKey("flows_dir", Path)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
ROUTE_TABLE: web.AppKey[tuple[RouteSpec, ...]] = web.AppKey("route_table")
VAULT: web.AppKey[Vault | None] = web.AppKey("vault")

# The signed-in user of the current request (set by the RBAC middleware; absent = anonymous).
USER = web.RequestKey("user", User)
