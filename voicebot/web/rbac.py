"""Who may call what: the route table, and the middleware that enforces it.

:data:`ROUTES` is the single declaration of every route and the roles it admits. The middleware
resolves the signed-in user from the session, refuses with 401 (anonymous) or 403 (wrong role,
non-loopback client for ``/metrics``, missing or wrong CSRF token on a state-changing request),
and only then calls the handler. Tests iterate the same table for the route x role matrix.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from aiohttp.typedefs import Handler as NextHandler
from aiohttp.typedefs import Middleware
from aiohttp_session import Session, get_session

from voicebot.store.users import Role, User, get_user
from voicebot.store.web_sessions import session_is_open
from voicebot.web.auth import CSRF_HEADER, SESSION_MAX_AGE_S, csrf_ok, session_user
from voicebot.web.context import error, now
from voicebot.web.inputs import ROUTE_SPEC
from voicebot.web.keys import STORE, USER
from voicebot.web.metrics import is_loopback
from voicebot.web.routes import (
    agent,
    audit,
    calls,
    campaigns,
    flows,
    me,
    pages,
    privacy,
    session,
    users,
)
from voicebot.web.routespec import Open, RouteSpec

ADMIN = frozenset({Role.ADMIN})
DESIGNERS = frozenset({Role.ADMIN, Role.DESIGNER})
AUDITORS = frozenset({Role.ADMIN, Role.AUDITOR})
AGENTS = frozenset({Role.AGENT})

_LOGIN_EXAMPLE = {"name": "agent1", "password": "correct horse battery", "totp": None}
_NEW_USER_EXAMPLE = {"name": "new-agent", "password": "a long passphrase", "roles": ["agent"]}

ROUTES: tuple[RouteSpec, ...] = (
    # Pages and assets.
    RouteSpec("GET", "/", pages.index, Open.PUBLIC, "Go to the console", "pages", kind="html"),
    RouteSpec("GET", "/login", pages.login_page, Open.PUBLIC, "Sign-in page", "pages", "html"),
    RouteSpec("GET", "/console", pages.console_page, AGENTS, "Agent console", "pages", "html"),
    RouteSpec("GET", "/admin", pages.admin_page, ADMIN, "Admin page", "pages", "html"),
    RouteSpec(
        "GET", "/static/{name}", pages.static_asset, Open.PUBLIC, "Page asset", "pages", "text",
        path_model=pages.AssetPath,
        example_path={"name": "console.js"},
    ),
    RouteSpec("GET", "/metrics", pages.get_metrics, Open.LOOPBACK, "Prometheus", "ops", "text"),
    RouteSpec("GET", "/api/openapi.json", pages.get_openapi, Open.PUBLIC, "This API", "ops"),
    # Session.
    RouteSpec(
        "GET", "/api/session", session.get_session_state, Open.PUBLIC,
        "Who is signed in, and the CSRF token", "session",
    ),
    RouteSpec(
        "POST", "/api/session", session.login, Open.PUBLIC, "Sign in", "session",
        body=session.LoginRequest, example_body=_LOGIN_EXAMPLE,
    ),
    RouteSpec("DELETE", "/api/session", session.logout, Open.AUTHENTICATED, "Sign out", "session"),
    RouteSpec("GET", "/api/me", me.get_me, Open.AUTHENTICATED, "The signed-in user", "session"),
    RouteSpec(
        "POST", "/api/me/password", me.change_password, Open.AUTHENTICATED,
        "Change one's own password", "session", body=me.PasswordChange,
        example_body={"current": "old passphrase", "new": "a new long passphrase"},
    ),
    # Designers.
    RouteSpec("GET", "/api/flows", flows.get_flows, DESIGNERS, "List the flows", "flows"),
    # Auditors.
    RouteSpec(
        "GET", "/api/audit", audit.get_audit, AUDITORS, "Read the audit log (audited)", "audit",
        query_model=audit.AuditQuery,
        example_query={"limit": "50"},
    ),
    # Auditors' campaigns and call archive; designers' flows and prompts.
    RouteSpec("GET", "/audit", pages.audit_page, AUDITORS, "Auditor page", "pages", "html"),
    RouteSpec(
        "GET", "/api/campaigns", campaigns.get_campaigns, AUDITORS,
        "Campaigns with their attempts counted by outcome", "campaigns",
    ),
    RouteSpec(
        "GET", "/api/campaigns/{name}/report", campaigns.get_campaign_report, AUDITORS,
        "A campaign's HTML report, numbers masked (audited)", "campaigns", "html",
        path_model=campaigns.CampaignPath,
        example_path={"name": "winter"},
    ),
    RouteSpec(
        "GET", "/api/campaigns/{name}/calls", campaigns.get_campaign_calls, AUDITORS,
        "A campaign's attempts: masked number, outcome, times, QA (audited)", "campaigns",
        path_model=campaigns.CampaignPath,
        example_path={"name": "winter"},
    ),
    RouteSpec(
        "GET", "/api/calls/{attempt}/transcript", calls.get_call_transcript, AUDITORS,
        "A call's redacted transcript (audited)", "calls", example_path={"attempt": "1"},
        path_model=calls.AttemptPath,
    ),
    RouteSpec(
        "GET", "/api/calls/{attempt}/recording", calls.get_call_recording, AUDITORS,
        "A call's recording, audio/wav (audited)", "calls", "wav", path_model=calls.AttemptPath,
        example_path={"attempt": "1"},
    ),
    RouteSpec(
        "GET", "/api/calls/{attempt}/qa", calls.get_call_qa, AUDITORS,
        "A call's QA checklist (audited)", "calls", example_path={"attempt": "1"},
        path_model=calls.AttemptPath,
    ),
    RouteSpec(
        "GET", "/api/flows/{name}", flows.get_flow, DESIGNERS,
        "A flow's YAML, lint findings and approval status", "flows", path_model=flows.FlowPath,
        example_path={"name": "payment_reminder"},
    ),
    RouteSpec(
        "PUT", "/api/flows/{name}", flows.put_flow, DESIGNERS,
        "Save a flow (must pass the lint; audited; needs a new approval)", "flows",
        body=flows.FlowUpdate, path_model=flows.FlowPath, example_path={"name": "payment_reminder"},
        # Names no real version, so trying the example (the RBAC matrix does) never saves.
        example_body={"yaml": "name: payment_reminder\n...", "base_sha256": "0" * 64},
    ),
    RouteSpec(
        "GET", "/api/flows/{name}/graph", flows.get_flow_graph, DESIGNERS,
        "A flow as a Mermaid flowchart (text)", "flows", "text", path_model=flows.FlowPath,
        example_path={"name": "payment_reminder"},
    ),
    RouteSpec(
        "GET", "/api/prompts/{locale}", flows.get_prompts, DESIGNERS,
        "The approved prompt texts of a locale", "flows", example_path={"locale": "en-US"},
        path_model=flows.LocalePath,
    ),
    # Admins.
    RouteSpec("GET", "/api/users", users.get_users, ADMIN, "List accounts", "users"),
    RouteSpec(
        "POST", "/api/users", users.create_user, ADMIN, "Create an account", "users",
        body=users.UserCreate, example_body=_NEW_USER_EXAMPLE,
    ),
    RouteSpec(
        "PUT", "/api/users/{name}/roles", users.update_roles, ADMIN, "Set a user's roles",
        "users", body=users.RolesUpdate, path_model=users.UserPath,
        example_path={"name": "new-agent"},
        example_body={"roles": ["agent", "auditor"]},
    ),
    RouteSpec(
        "DELETE", "/api/users/{name}", users.delete_user, ADMIN,
        "Remove an account (ends its sessions; audited)", "users", path_model=users.UserPath,
        # Names nobody, so trying the example (the RBAC matrix does) never removes an account.
        example_path={"name": "nobody-here"},
    ),
    RouteSpec(
        "POST", "/api/admin/erase", privacy.erase_number, ADMIN,
        "Erase a number's personal data now (keeps a hashed do-not-call entry)", "privacy",
        body=privacy.ErasureRequest, example_body={"number": "+12025550100"},
    ),
    RouteSpec(
        "POST", "/api/handoffs/{id}/reveal", agent.reveal_number, ADMIN,
        "Show a waiting call's full number (audited)", "agent", example_path={"id": "h1"},
        path_model=agent.HandoffPath,
    ),
    # Agents.
    RouteSpec("GET", "/api/agent/presence", agent.get_presence, AGENTS, "My presence", "agent"),
    RouteSpec(
        "PUT", "/api/agent/presence", agent.put_presence, AGENTS, "Go available or away", "agent",
        body=agent.PresenceUpdate, example_body={"status": "available"},
    ),
    RouteSpec(
        "GET", "/api/agent/handoffs", agent.get_handoffs, AGENTS,
        "Waiting calls, masked (long-poll with since and wait)", "agent",
        query_model=agent.HandoffsQuery,
        example_query={"since": "0", "wait": "0"},
    ),
    RouteSpec(
        "POST", "/api/agent/handoffs/{id}/accept", agent.accept_handoff, AGENTS,
        "Take the call ringing here: send the browser's WebRTC offer, get the answer", "agent",
        body=agent.AudioOffer, path_model=agent.HandoffPath, example_path={"id": "h1"},
        example_body={"type": "offer", "sdp": "v=0 (the browser's offer)"},
    ),
    RouteSpec(
        "POST", "/api/agent/handoffs/{id}/decline", agent.decline_handoff, AGENTS,
        "Pass the call ringing here to the next agent", "agent", example_path={"id": "h1"},
        path_model=agent.HandoffPath,
    ),
    RouteSpec(
        "POST", "/api/agent/calls/{id}/hangup", agent.hang_up, AGENTS,
        "End the call with the caller", "agent", example_path={"id": "h1"},
        path_model=agent.HandoffPath,
    ),
    RouteSpec(
        "POST", "/api/agent/calls/{id}/disposition", agent.wrap_up, AGENTS,
        "Wrap up: the call's disposition (feeds the compliance rules)", "agent",
        body=agent.WrapUp, path_model=agent.HandoffPath, example_path={"id": "h1"},
        example_body={"disposition": "sale"},
    ),
)  # fmt: skip


def route_key(method: str, path: str) -> tuple[str, str]:
    """The key the middleware looks a matched route up by."""
    return method.upper(), path


def spec_index(routes: tuple[RouteSpec, ...]) -> dict[tuple[str, str], RouteSpec]:
    """Routes by (method, path template); HEAD answers as GET does."""
    index = {route_key(s.method, s.path): s for s in routes}
    for s in routes:
        if s.method == "GET":
            index.setdefault(route_key("HEAD", s.path), s)
    return index


async def _current_user(request: web.Request, sess: Session) -> User | None:
    carried = session_user(sess)
    if carried is None:
        return None
    at = now(request)
    async with request.app[STORE].engine.connect() as conn:
        user = await get_user(conn, user_id=carried.user_id)
        # Signed out, or ended by a password change, role change or removal, on any process.
        is_open = await session_is_open(conn, carried.token, carried.user_id, at)
    expired = at - carried.auth_at > dt.timedelta(seconds=SESSION_MAX_AGE_S)
    stale = user is not None and user.password_changed_at > carried.auth_at
    if user is None or user.disabled or expired or stale or not is_open:
        sess.invalidate()
        return None
    return user


def _refusal(spec: RouteSpec, status: int, code: str, message: str) -> web.Response:
    if spec.kind != "html":
        return error(status, code, message)
    body = (
        '<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/login">'
        f'<title>{status}</title><p>{message}. <a href="/login">Sign in</a></p>'
    )
    return web.Response(status=status, text=body, content_type="text/html")


def rbac_middleware(index: dict[tuple[str, str], RouteSpec]) -> Middleware:
    """The enforcing middleware for a route index (see :func:`spec_index`)."""

    @web.middleware
    async def enforce(request: web.Request, handler: NextHandler) -> web.StreamResponse:
        route = request.match_info.route
        resource = route.resource
        spec = index.get(route_key(request.method, resource.canonical)) if resource else None
        if spec is None:  # 404/405 from the router: nothing to protect
            return await handler(request)
        request[ROUTE_SPEC] = spec
        sess = await get_session(request)
        user = await _current_user(request, sess)
        if user is not None:
            request[USER] = user
        if spec.access is Open.LOOPBACK and not is_loopback(request.remote):
            return _refusal(spec, 403, "forbidden", "only served to loopback clients")
        if not spec.allows(user.roles if user else None):
            if user is None:
                return _refusal(spec, 401, "unauthenticated", "sign in first")
            return _refusal(spec, 403, "forbidden", "your roles do not allow this")
        if spec.state_changing and not csrf_ok(sess, request.headers.get(CSRF_HEADER)):
            return _refusal(spec, 403, "csrf", f"missing or wrong {CSRF_HEADER} header")
        return await handler(request)

    return enforce
