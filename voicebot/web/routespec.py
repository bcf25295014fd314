"""One route of the web app as data: method, path, handler, who may call it, and its documentation.

The route table (:data:`voicebot.web.rbac.ROUTES`) is a tuple of these. The application factory
registers them, the RBAC middleware enforces their ``access``, the OpenAPI document is generated
from them and the RBAC matrix test iterates them: one declaration, four uses, no drift.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from voicebot.store.users import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Open(enum.StrEnum):
    """Access that is not a set of roles."""

    PUBLIC = "public"  # anyone, signed in or not
    AUTHENTICATED = "authenticated"  # any signed-in user, whatever their roles
    LOOPBACK = "loopback"  # no login, but only clients on 127.0.0.0/8 or ::1


Access = Open | frozenset[Role]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RouteSpec:
    """A route and its rule.

    Attributes:
        method: HTTP method.
        path: aiohttp path template (``/api/users/{name}/roles``).
        handler: the coroutine answering it.
        access: :class:`Open` or the roles allowed (a user with any one of them may call it).
        summary: one line for the OpenAPI document.
        tag: OpenAPI tag (the area: session, users, agent, ...).
        kind: ``json``, ``html``, ``text`` or ``wav``: what the route answers (and how a
            refusal looks: a page for ``html``, JSON for the rest).
        body: the pydantic model of the JSON request body, if any.
        path_model: the pydantic model of the path's parameters (every ``{name}`` in ``path``);
            validated before the handler runs (:mod:`voicebot.web.inputs`).
        query_model: the pydantic model of the query parameters, validated likewise.
        example_path: values for the path's parameters (tests and documentation).
        example_query: a query string example (tests and documentation).
        example_body: a valid request body (tests and documentation).
    """

    method: str
    path: str
    handler: Handler
    access: Access
    summary: str
    tag: str
    kind: str = "json"
    body: type[BaseModel] | None = None
    path_model: type[BaseModel] | None = None
    query_model: type[BaseModel] | None = None
    example_path: Mapping[str, str] = field(default_factory=dict)
    example_query: Mapping[str, str] = field(default_factory=dict)
    example_body: Mapping[str, Any] | None = None

    @property
    def state_changing(self) -> bool:
        """Whether the method may change state (and so needs a CSRF token)."""
        return self.method not in SAFE_METHODS

    @property
    def operation_id(self) -> str:
        """A stable id for the OpenAPI document: the handler's name."""
        return self.handler.__name__

    def example_url(self) -> str:
        """The path with its example parameters filled in."""
        return self.path.format(**self.example_path)

    def allows(self, roles: frozenset[Role] | None) -> bool:
        """Whether a caller with ``roles`` (``None``: anonymous) passes, loopback aside."""
        if self.access in (Open.PUBLIC, Open.LOOPBACK):
            return True
        if roles is None:
            return False
        if self.access is Open.AUTHENTICATED:
            return True
        assert isinstance(self.access, frozenset)
        return bool(self.access & roles)
