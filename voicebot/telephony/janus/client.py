"""A client for Janus's REST API: one session, its plugin handles, the long poll and keepalives.

Janus answers a plugin request at once with an ``ack`` and delivers the result later as an event
on the session's long poll (``GET /janus/<session>``); core events (``webrtcup``, ``media``,
``hangup``) come the same way. :class:`JanusSession` runs that poll in one task and routes each
event to the queue of the :class:`JanusHandle` it names. A session with no request for
``session_timeout`` (60 s by default) is destroyed by Janus, so a keepalive goes out regularly.

If the gateway goes away (connection refused, session unknown), the session is *lost*: every
handle receives a final :data:`LOST` event and every later request raises
:class:`JanusUnavailable` at once, so calls end instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

LOST = "lost"
"""The ``kind`` of the last event a handle gets when the gateway is gone."""

_POLL_RETRIES = 3
_RETRY_DELAY = 0.3


class JanusError(Exception):
    """Janus refused a request (``janus: error``, or a plugin ``error_code``)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message if code is None else f"{message} (Janus error {code})")
        self.code = code


class JanusUnavailable(JanusError):
    """The gateway cannot be reached, or forgot our session."""


@dataclass(frozen=True, slots=True)
class JanusEvent:
    """One event for a handle.

    Attributes:
        kind: Janus's ``janus`` field: ``event`` (plugin), ``webrtcup``, ``media``, ``hangup``,
            ``slowlink``, ``detached``, or :data:`LOST`.
        data: the plugin's ``plugindata.data`` (empty for core events).
        jsep: the SDP that came with it, if any.
        raw: the whole message as Janus sent it.
    """

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    jsep: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class JanusSession:
    """One Janus session over HTTP.

    Args:
        url: the API's base URL, e.g. ``http://127.0.0.1:8088/janus``.
        keepalive: seconds between keepalives (keep well under Janus's ``session_timeout``).
        request_timeout: seconds to wait for a request's immediate answer.
    """

    def __init__(self, url: str, keepalive: float = 25.0, request_timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.keepalive = keepalive
        self.request_timeout = request_timeout
        self.id: int | None = None
        self.lost_reason: str | None = None
        """Why the session was lost; None while it is alive."""
        self._http: aiohttp.ClientSession | None = None
        self._handles: dict[int, JanusHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._counter = itertools.count(1)
        self._prefix = secrets.token_hex(4)

    @property
    def alive(self) -> bool:
        """Whether the session exists and the gateway still answers."""
        return self.id is not None and self.lost_reason is None

    async def open(self) -> None:
        """Create the session and start the long poll and keepalives.

        Raises:
            JanusUnavailable: the gateway did not answer.
        """
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, connect=self.request_timeout)
            )
        reply = await self._post(self.url, {"janus": "create"})
        self.id = int(reply["data"]["id"])
        self._tasks = [
            asyncio.create_task(self._poll(), name=f"janus-poll-{self.id}"),
            asyncio.create_task(self._keep_alive(), name=f"janus-keepalive-{self.id}"),
        ]

    async def attach(self, plugin: str = "janus.plugin.sip") -> JanusHandle:
        """Attach a new handle to ``plugin``."""
        reply = await self.request({"janus": "attach", "plugin": plugin})
        handle = JanusHandle(self, int(reply["data"]["id"]))
        self._handles[handle.id] = handle
        return handle

    async def request(self, body: dict[str, Any], handle: int | None = None) -> dict[str, Any]:
        """Send one request on the session (or on ``handle``); returns Janus's immediate answer.

        Raises:
            JanusUnavailable: the session is lost or the gateway does not answer.
            JanusError: Janus answered with an error.
        """
        if self.lost_reason is not None:
            raise JanusUnavailable(f"Janus at {self.url} is unavailable: {self.lost_reason}")
        if self.id is None:
            raise JanusUnavailable("the Janus session is not open")
        url = f"{self.url}/{self.id}" + ("" if handle is None else f"/{handle}")
        return await self._post(url, body)

    async def close(self) -> None:
        """Destroy the session on the gateway (if it is still there) and stop every task."""
        if self.alive:
            with contextlib.suppress(JanusError, aiohttp.ClientError, TimeoutError):
                await self.request({"janus": "destroy"})
        self._lose("closed")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.close()
            self._http = None

    def forget(self, handle: JanusHandle) -> None:
        """Stop routing events to ``handle`` (after it was detached)."""
        self._handles.pop(handle.id, None)

    # --- internals ---------------------------------------------------------------------------

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self._http is not None
        message = {**body, "transaction": f"{self._prefix}-{next(self._counter)}"}
        try:
            async with asyncio.timeout(self.request_timeout):
                async with self._http.post(url, json=message) as resp:
                    reply: dict[str, Any] = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            reason = str(exc) or type(exc).__name__
            raise JanusUnavailable(f"Janus at {self.url} did not answer: {reason}") from exc
        if reply.get("janus") == "error":
            error = reply.get("error", {})
            code = error.get("code")
            if code == 458:  # no such session: the gateway restarted or timed us out
                self._lose(f"session {self.id} unknown to Janus")
                raise JanusUnavailable(f"Janus at {self.url} forgot our session", code)
            raise JanusError(str(error.get("reason", "request refused")), code)
        return reply

    async def _poll(self) -> None:
        try:
            await self._poll_loop()
        except Exception as exc:  # never leave calls waiting on a dead poll
            log.exception("janus: long poll broke")
            self._lose(f"long poll broke: {type(exc).__name__}: {exc}")

    async def _poll_loop(self) -> None:
        assert self._http is not None
        failures = 0
        while self.lost_reason is None:
            url = f"{self.url}/{self.id}?maxev=10"
            try:
                async with self._http.get(url, timeout=aiohttp.ClientTimeout(total=60)) as resp:
                    reply = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                failures += 1
                if failures >= _POLL_RETRIES:
                    self._lose(f"long poll failed: {str(exc) or type(exc).__name__}")
                    return
                await asyncio.sleep(_RETRY_DELAY)
                continue
            failures = 0
            for message in reply if isinstance(reply, list) else [reply]:
                if isinstance(message, dict):
                    self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = str(message.get("janus", ""))
        if kind == "keepalive":
            return
        if kind == "error" and message.get("error", {}).get("code") == 458:
            self._lose(f"session {self.id} unknown to Janus")
            return
        handle = self._handles.get(int(message.get("sender", 0) or 0))
        if handle is None:
            log.debug("janus: event %s for no known handle", kind)
            return
        plugindata = message.get("plugindata") or {}
        handle.events.put_nowait(
            JanusEvent(kind, dict(plugindata.get("data") or {}), message.get("jsep"), message)
        )

    async def _keep_alive(self) -> None:
        while self.lost_reason is None:
            await asyncio.sleep(self.keepalive)
            with contextlib.suppress(JanusError):
                await self.request({"janus": "keepalive"})

    def _lose(self, reason: str) -> None:
        if self.lost_reason is not None:
            return
        self.lost_reason = reason
        if reason != "closed":
            log.warning("janus: session at %s lost: %s", self.url, reason)
        for handle in self._handles.values():
            handle.events.put_nowait(JanusEvent(LOST, {"reason": reason}))


class JanusHandle:
    """One plugin handle; its events arrive on :attr:`events` in order."""

    def __init__(self, session: JanusSession, handle_id: int) -> None:
        self.session = session
        self.id = handle_id
        self.events: asyncio.Queue[JanusEvent] = asyncio.Queue()

    async def message(
        self, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send a plugin request; the result comes later as an event (see :meth:`next_event`)."""
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        return await self.session.request(request, self.id)

    async def next_event(self, timeout: float | None = None) -> JanusEvent:
        """The next event for this handle.

        Raises:
            TimeoutError: none came within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            return await self.events.get()

    async def detach(self) -> None:
        """Detach from the plugin (best effort: a lost session has nothing to detach)."""
        self.session.forget(self)
        if self.session.alive:
            with contextlib.suppress(JanusError):
                await self.session.request({"janus": "detach"}, self.id)
