"""The flows a designer works on: the listing, one flow's YAML with its lint findings and
approval status, saving a new version, its Mermaid graph, and the prompt texts of a locale.

Each file is loaded with the real loader, so a broken flow shows its ``file:line:col`` error
instead of disappearing from the list. Files are found by name in the server's flows
directory only; a name is never a path. A save must name the version it was edited from (its
SHA-256, so two designers cannot silently overwrite each other), must load and pass the lint
(warnings are allowed), is audited, and replaces the file atomically. Approvals cover a hash
of the flow, so a changed flow is unapproved until a reviewer approves it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from voicebot.flow.approval import NotApproved, UnapprovableFlow, check_approved
from voicebot.flow.graph import to_mermaid
from voicebot.flow.lint import Finding, Severity, lint
from voicebot.flow.loader import LoadedFlow, default_prompts_dir, load_flow
from voicebot.flow.prompts import PromptCatalog
from voicebot.privacy.audit_events import FLOW_CHANGE
from voicebot.web.context import audit, error, read_body, user_of
from voicebot.web.inputs import Params, path_params
from voicebot.web.keys import FLOWS_DIR, STORE
from voicebot.yamlsource import SourceErrors, parse_guarded

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"  # letters, digits, _ and -: never a path
_LOCALE = r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$"  # en-US, zh-CN
_SAVING = threading.Lock()  # one save at a time: check the base version, lint, replace


class FlowPath(Params):
    """A flow is named by its file's name without ``.yaml`` (a name is never a path)."""

    name: str = Field(pattern=_NAME)


class LocalePath(Params):
    """A prompt catalog is named by its locale (``en-US``, ``zh-CN``)."""

    locale: str = Field(max_length=35, pattern=_LOCALE)


class FlowUpdate(BaseModel):
    """A new version of a flow file, and the SHA-256 of the version it was edited from."""

    yaml: str = Field(min_length=1, max_length=60_000)
    base_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _findings(
    findings: list[Finding], candidate: Path | None = None, target: str = ""
) -> list[dict[str, Any]]:
    """Findings as JSON with file names only (the server's directories are none of the
    client's business); a ``candidate`` being saved is named as the file it will replace."""
    out = []
    for f in findings:
        name = Path(f.file).name
        if candidate is not None and name == candidate.name:
            name = target
        out.append({**f.as_dict(), "file": name})
    return out


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


def _flow_file(request: web.Request) -> Path | web.Response:
    """``<name>.yaml`` in the flows directory, or the error answer."""
    name = path_params(request, FlowPath).name
    path: Path = request.app[FLOWS_DIR] / f"{name}.yaml"
    if not path.is_file():
        return error(404, "not_found", f"no flow file {name}.yaml")
    return path


def _load_and_lint(path: Path) -> tuple[str, LoadedFlow | None, list[dict[str, Any]], str | None]:
    text = path.read_text(encoding="utf-8")
    try:
        loaded = load_flow(path)
    except Exception as exc:  # shown to the designer, like the listing does
        return text, None, [], str(exc)
    return text, loaded, _findings(lint(loaded)), None


async def _approval(request: web.Request, loaded: LoadedFlow) -> dict[str, Any]:
    try:
        approval = await check_approved(loaded, request.app[STORE])
    except NotApproved as exc:
        return {"status": "not_approved", "changes": list(exc.changes)}
    except UnapprovableFlow as exc:
        return {"status": "unapprovable", "changes": [str(exc)]}
    return {
        "status": "approved",
        "reviewer": approval.reviewer,
        "approved_at": approval.approved_at.isoformat(),
        "hash": approval.digest,
    }


async def get_flow(request: web.Request) -> web.Response:
    """One flow: its YAML text, its lint findings and whether it is approved as it is now."""
    path = _flow_file(request)
    if isinstance(path, web.Response):
        return path
    text, loaded, findings, load_error = await asyncio.to_thread(_load_and_lint, path)
    body: dict[str, Any] = {
        "file": path.name,
        "name": loaded.name if loaded else path.stem,
        "yaml": text,
        "sha256": _sha256(text.encode("utf-8")),
        "error": load_error,
        "lint": findings,
        "approval": await _approval(request, loaded) if loaded else None,
    }
    return web.json_response(body)


@dataclass
class _Save:
    """What a save attempt came to: saved, or refused with a status and why."""

    status: int = 200
    code: str = ""
    message: str = ""
    old_sha256: str = ""
    new_sha256: str = ""
    lint: list[dict[str, Any]] = field(default_factory=list)


def _save(path: Path, update: FlowUpdate) -> _Save:
    """Check the base version, load and lint the new text beside the file, then replace it."""
    try:  # the guarded reader first: nothing hostile is written, even beside the flow
        parse_guarded(update.yaml, path.name)
    except SourceErrors as exc:
        return _Save(422, "flow_invalid", str(exc))
    data = update.yaml.encode("utf-8")
    with _SAVING:
        current = _sha256(path.read_bytes())
        if current != update.base_sha256:
            message = f"{path.name} changed since you opened it: reload it and edit again"
            return _Save(409, "conflict", message, old_sha256=current)
        # A hidden sibling (not *.yaml, so never listed) loads with the same prompts as the file.
        candidate = path.with_name(f".{path.stem}.edit-{secrets.token_hex(4)}")
        try:
            candidate.write_bytes(data)
            try:
                loaded = load_flow(candidate, prompts_dir=default_prompts_dir(path))
            except Exception as exc:  # a flow that does not load is not saved: say where
                message = str(exc).replace(str(candidate), path.name)
                return _Save(422, "flow_invalid", message)
            findings = lint(loaded)
            shown = _findings(findings, candidate, path.name)
            if any(f.severity is Severity.ERROR for f in findings):
                message = "the lint found errors; nothing was saved"
                return _Save(422, "lint_failed", message, lint=shown)
            os.replace(candidate, path)
        finally:
            candidate.unlink(missing_ok=True)
    return _Save(old_sha256=current, new_sha256=_sha256(data), lint=shown)


async def put_flow(request: web.Request) -> web.Response:
    """Save a new version of a flow: it must load and pass the lint; audited; the flow's
    approval no longer covers it (answered with the approval status)."""
    path = _flow_file(request)
    if isinstance(path, web.Response):
        return path
    update = await read_body(request, FlowUpdate)
    saved = await asyncio.to_thread(_save, path, update)
    if saved.status != 200:
        refusal = {"error": saved.code, "message": saved.message, "lint": saved.lint}
        if saved.old_sha256:
            refusal["sha256"] = saved.old_sha256  # the version now on disk
        return web.json_response(refusal, status=saved.status)
    await audit(
        request, FLOW_CHANGE, actor=user_of(request).name, flow=path.stem,
        old_sha256=saved.old_sha256, new_sha256=saved.new_sha256,
    )  # fmt: skip
    loaded = await asyncio.to_thread(load_flow, path)
    return web.json_response(
        {
            "file": path.name,
            "sha256": saved.new_sha256,
            "lint": saved.lint,
            "approval": await _approval(request, loaded),
        }
    )


async def get_flow_graph(request: web.Request) -> web.Response:
    """One flow as a Mermaid flowchart (text/plain)."""
    path = _flow_file(request)
    if isinstance(path, web.Response):
        return path
    try:
        loaded = await asyncio.to_thread(load_flow, path)
    except Exception as exc:  # a flow that does not load has no graph: say why
        return error(422, "flow_invalid", str(exc))
    return web.Response(text=to_mermaid(loaded.flow, loaded.name), content_type="text/plain")


async def get_prompts(request: web.Request) -> web.Response:
    """The approved prompt texts of one locale, as the server's flows use them."""
    locale = path_params(request, LocalePath).locale
    directory = default_prompts_dir(request.app[FLOWS_DIR] / "flow.yaml")
    if not (directory / f"{locale}.yaml").is_file():
        return error(404, "not_found", f"no prompts for locale {locale}")
    try:
        catalog = await asyncio.to_thread(PromptCatalog.load, directory, locale)
    except Exception as exc:  # a malformed prompt file: show where
        return error(422, "prompts_invalid", str(exc))
    return web.json_response({"locale": locale, "prompts": dict(catalog.texts)})
