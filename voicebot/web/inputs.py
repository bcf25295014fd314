"""What a request carries, parsed in one place before any handler sees it.

Hostile input must get a 400 that says what is wrong, never a 500: a non-ASCII digit in an id
(``int("²")`` raises), an id past 64 bits (the database driver overflows), JSON nested 20,000
deep (the parser recurses), a 5,000-digit number (``int()`` refuses it), text a database cannot
store (NUL, lone UTF-16 surrogates). So:

* path and query parameters are declared per route as pydantic models (``RouteSpec.path_model``,
  ``RouteSpec.query_model``); :func:`inputs_middleware` validates them once the RBAC middleware
  has let the caller through, and handlers read the typed result with :func:`path_params` and
  :func:`query_params`. Ids are :data:`Id`: ASCII digits only, 1 to 2**63-1;
* every path and query value of every route, declared or not, is refused if it holds NUL or a
  lone surrogate;
* JSON bodies are read by :func:`read_json`: UTF-8 only, nesting and number sizes bounded before
  and while parsing, no NaN or Infinity, no NUL or lone surrogates in any string.

The same models feed the OpenAPI document, so what a route accepts is documented where it is
enforced.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler as NextHandler
from aiohttp.typedefs import Middleware
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from voicebot.web.routespec import RouteSpec

M = TypeVar("M", bound=BaseModel)

MAX_ID = 2**63 - 1
"""The largest id a route accepts: the databases' signed 64-bit integer."""
MAX_DEPTH = 32
"""How deeply a JSON body may nest arrays and objects (ours need 3)."""
MAX_NUMBER_DIGITS = 40
"""How many characters a number in a JSON body may have (ours are small)."""

# Request storage: the route the RBAC middleware matched, and the parsed parameters.
ROUTE_SPEC = web.RequestKey("route_spec", RouteSpec)
PATH_PARAMS = web.RequestKey("path_params", BaseModel)
QUERY_PARAMS = web.RequestKey("query_params", BaseModel)

# A JSON string (escapes included) or a bracket: strings are skipped when counting depth.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_UTF8 = frozenset({"utf-8", "utf8"})


def _ascii_whole_number(value: object) -> object:
    """Text of ASCII digits only, at most 19 of them (what fits 64 bits), as an int.

    Python's ``int()`` and pydantic's lax mode accept ``"²"``, ``"٣"``, ``" 5"``, ``"+5"`` and
    ``"5_000"``; an id must be exactly what it looks like.
    """
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > 19:
            raise ValueError(
                f"expected a whole number of at most 19 digits 0-9, not {value[:40]!r}"
            )
        return int(value)
    return value


ASCII_DIGITS = BeforeValidator(_ascii_whole_number)
"""Put in an ``Annotated[int, ...]`` whose value arrives as text (see :data:`Id`)."""

Id = Annotated[int, Field(ge=1, le=MAX_ID), ASCII_DIGITS]
"""A row id in a path or query: 1 to 2**63-1, written in ASCII digits."""

Counter = Annotated[int, Field(ge=0, le=MAX_ID), ASCII_DIGITS]
"""A version or count in a query: 0 to 2**63-1, written in ASCII digits."""


class Params(BaseModel):
    """Base of path and query models: unknown query parameters are ignored, values are final."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def bad_request(message: str) -> web.HTTPBadRequest:
    """A 400 in the app's one error shape (``validation``), raised from anywhere in a handler."""
    return web.HTTPBadRequest(
        text=json.dumps({"error": "validation", "message": message}),
        content_type="application/json",
    )


def problems(exc: ValidationError, where: str = "body") -> str:
    """A validation error as one line naming each bad field and what was expected."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or where}: {e['msg']}" for e in exc.errors()
    )


def _unstorable(text: str) -> str | None:
    """Why no database could store ``text`` (NUL, a lone surrogate), or ``None``."""
    if "\x00" in text:
        return "a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone UTF-16 surrogate"
    return None


def _check_strings(value: Any) -> None:
    """Refuse NUL or lone surrogates in any string of a parsed JSON value (keys included)."""
    if isinstance(value, str):
        why = _unstorable(value)
        if why is not None:
            raise bad_request(f"the body contains {why}, which no text field may hold")
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, or ``MAX_DEPTH + 1`` as soon as it is past."""
    depth = deepest = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
        elif token in "]}":
            depth -= 1
    return deepest


class _Refused(ValueError):
    """Raised from inside the JSON parser's number hooks."""


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _Refused(
            f"a number in the body has {len(literal.lstrip('-'))} digits; "
            f"at most {MAX_NUMBER_DIGITS} digits are accepted"
        )
    return int(literal)


def _float(literal: str) -> float:
    if len(literal) > MAX_NUMBER_DIGITS:
        raise _Refused(
            f"a number in the body is {len(literal)} characters long; "
            f"at most {MAX_NUMBER_DIGITS} digits are accepted"
        )
    value = float(literal)
    if not math.isfinite(value):
        raise _Refused(f"the number {literal} in the body is out of range")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not valid JSON (numbers must be finite)")


async def read_json(request: web.Request) -> Any:
    """The request's JSON body, parsed within the limits above.

    Raises:
        web.HTTPBadRequest: not UTF-8, not JSON, too deep, a number too long, NaN or
            Infinity, or a string no database can store; the message says which.
        web.HTTPRequestEntityTooLarge: larger than the app's ``client_max_size``.
    """
    charset = request.charset
    if charset is not None and charset.strip().lower() not in _UTF8:
        raise bad_request(f"the body must be JSON in UTF-8, not charset {charset[:40]!r}")
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the body is not UTF-8 text (bad byte at offset {exc.start})") from None
    if _depth(text) > MAX_DEPTH:
        raise bad_request(f"the JSON body is nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except _Refused as exc:
        raise bad_request(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    _check_strings(value)
    return value


async def read_model(request: web.Request, model: type[M]) -> M:
    """Read the JSON body (:func:`read_json`) and validate it as ``model``; a bad one is a 400
    naming each bad field."""
    raw = await read_json(request)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise bad_request(problems(exc)) from None


def path_params(request: web.Request, model: type[M]) -> M:
    """The route's validated path parameters (the route must declare ``model``)."""
    value = request[PATH_PARAMS]
    assert isinstance(value, model), f"route declares {type(value).__name__}, not {model}"
    return value


def query_params(request: web.Request, model: type[M]) -> M:
    """The route's validated query parameters (the route must declare ``model``)."""
    value = request[QUERY_PARAMS]
    assert isinstance(value, model), f"route declares {type(value).__name__}, not {model}"
    return value


def _refuse(message: str) -> web.Response:
    return web.json_response({"error": "validation", "message": message}, status=400)


def _unstorable_param(request: web.Request) -> str | None:
    for where, pairs in (("path", request.match_info.items()), ("query", request.query.items())):
        for name, value in pairs:
            why = _unstorable(name) or _unstorable(value)
            if why is not None:
                return f"{where} parameter {name[:40]!r} contains {why}"
    return None


def inputs_middleware() -> Middleware:
    """Validate the matched route's path and query parameters before its handler runs.

    Runs after the RBAC middleware (which records the route at :data:`ROUTE_SPEC`), so an
    anonymous or unauthorised caller learns nothing about which inputs would be accepted.
    """

    @web.middleware
    async def validate(request: web.Request, handler: NextHandler) -> web.StreamResponse:
        spec = request.get(ROUTE_SPEC)
        if spec is None:  # 404/405 from the router
            return await handler(request)
        unstorable = _unstorable_param(request)
        if unstorable is not None:
            return _refuse(unstorable)
        for key, model, source, where in (
            (PATH_PARAMS, spec.path_model, dict(request.match_info), "path"),
            (QUERY_PARAMS, spec.query_model, dict(request.query), "query"),
        ):
            if model is None:
                continue
            try:
                request[key] = model.model_validate(source)
            except ValidationError as exc:
                return _refuse(problems(exc, where))
        return await handler(request)

    return validate
