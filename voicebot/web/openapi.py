"""The OpenAPI 3.1 document, generated from the route table (so it cannot drift from the code).

Request bodies, path and query parameters come from the routes' pydantic models (their JSON
Schema is 2020-12, what OpenAPI 3.1 uses), the same models that validate them; who may call an
operation is stated in its description and in ``x-roles``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from voicebot import __version__
from voicebot.web.auth import CSRF_HEADER, SESSION_COOKIE
from voicebot.web.routespec import Open, RouteSpec

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}


def _access_words(spec: RouteSpec) -> tuple[str, list[str]]:
    if isinstance(spec.access, Open):
        return spec.access.value, [spec.access.value]
    roles = sorted(r.value for r in spec.access)
    return "roles: " + ", ".join(roles), roles


def _operation(spec: RouteSpec, schemas: dict[str, Any]) -> dict[str, Any]:
    words, roles = _access_words(spec)
    content_type = {
        "json": "application/json",
        "html": "text/html",
        "text": "text/plain",
        "wav": "audio/wav",
    }
    operation: dict[str, Any] = {
        "operationId": spec.operation_id,
        "summary": spec.summary,
        "description": f"Access: {words}."
        + (f" Needs the `{CSRF_HEADER}` header." if spec.state_changing else ""),
        "tags": [spec.tag],
        "x-roles": roles,
        "responses": {
            "200": {"description": "OK", "content": {content_type[spec.kind]: {}}},
            "400": _error_response("Invalid request"),
        },
    }
    if spec.access not in (Open.PUBLIC, Open.LOOPBACK):
        operation["security"] = [{"session": []}]
        operation["responses"]["401"] = _error_response("Not signed in")
    if spec.access is not Open.PUBLIC or spec.state_changing:
        operation["responses"]["403"] = _error_response("Role, address or CSRF token refused")
    else:
        operation["security"] = []
    path_schemas, _ = _param_schemas(spec.path_model)
    params = [
        {"name": name, "in": "path", "required": True,
         "schema": path_schemas.get(name, {"type": "string"})}
        for name in _PARAM.findall(spec.path)
    ]  # fmt: skip
    query_schemas, required = _param_schemas(spec.query_model)
    for name in query_schemas or spec.example_query:
        param: dict[str, Any] = {
            "name": name, "in": "query", "required": name in required,
            "schema": query_schemas.get(name, {"type": "string"}),
        }  # fmt: skip
        if name in spec.example_query:
            param["example"] = spec.example_query[name]
        params.append(param)
    if spec.state_changing:
        params.append(
            {"name": CSRF_HEADER, "in": "header", "required": True, "schema": {"type": "string"}}
        )
    if params:
        operation["parameters"] = params
    if spec.body is not None:
        name = spec.body.__name__
        schema = spec.body.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
        media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{name}"}}
        if spec.example_body is not None:
            media["example"] = dict(spec.example_body)
        operation["requestBody"] = {"required": True, "content": {"application/json": media}}
    return operation


def _param_schemas(model: type[BaseModel] | None) -> tuple[dict[str, Any], set[str]]:
    """Each parameter's JSON Schema in a path or query model, and which are required.

    An optional parameter is simply absent, so its ``null`` alternative is left out.
    """
    if model is None:
        return {}, set()
    schema = model.model_json_schema()
    properties: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        choices = [c for c in prop.get("anyOf", []) if c.get("type") != "null"]
        if len(choices) == 1:
            rest = {k: v for k, v in prop.items() if k != "anyOf" and v is not None}
            prop = {**rest, **choices[0]}
        properties[name] = prop
    return properties, set(schema.get("required", []))


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document(routes: Iterable[RouteSpec]) -> dict[str, Any]:
    """The whole document for ``routes``."""
    schemas: dict[str, Any] = {"Error": _ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for spec in routes:
        path = _PARAM.sub(r"{\1}", spec.path)
        paths.setdefault(path, {})[spec.method.lower()] = _operation(spec, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "voicebot console API",
            "version": __version__,
            "description": "Sign in with POST /api/session; send the session's CSRF token in "
            f"`{CSRF_HEADER}` with every state-changing request.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}
            },
        },
    }
