"""Designers read a flow's YAML with its lint findings and approval status, its Mermaid graph and
a locale's prompts through the web API; agents and auditors are refused."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from tests.paths import FLOWS_BROKEN, ROOT
from tests.web_support import WebFixture, running_app
from voicebot.flow.approval import approve
from voicebot.flow.loader import load_flow
from voicebot.privacy.audit_events import FLOW_CHANGE
from voicebot.store.models import AUDIT_EVENTS

DESIGNER_ROUTES = (
    "/api/flows/payment_reminder",
    "/api/flows/payment_reminder/graph",
    "/api/prompts/en-US",
)


def _flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy(ROOT / "flows" / "payment_reminder.yaml", folder)
    shutil.copy(FLOWS_BROKEN / "dead-end.yaml", folder)
    return folder


async def _get_json(
    fx: WebFixture, http: aiohttp.ClientSession, path: str
) -> tuple[int, dict[str, Any]]:
    async with http.get(fx.url(path)) as r:
        return r.status, await r.json()


async def test_designer_reads_a_flow_its_lint_and_its_approval(tmp_path: Path) -> None:
    folder = _flows(tmp_path)
    flow_file = folder / "payment_reminder.yaml"
    async with running_app(tmp_path, folder) as fx, fx.client() as http:
        status, _ = await fx.login(http, "designer1")
        assert status == 200
        status, flow = await _get_json(fx, http, "/api/flows/payment_reminder")
        assert status == 200, flow
        assert flow["yaml"] == flow_file.read_text(encoding="utf-8")
        assert flow["name"] == "payment_reminder" and flow["error"] is None
        assert flow["lint"] == []
        assert flow["approval"] == {"status": "not_approved", "changes": ["it was never approved"]}

        await approve(fx.store, load_flow(flow_file), "Dana", at=fx.clock())
        status, flow = await _get_json(fx, http, "/api/flows/payment_reminder")
        approval = flow["approval"]
        assert approval["status"] == "approved" and approval["reviewer"] == "Dana"

        text = flow_file.read_text(encoding="utf-8")
        edited = text.replace("description: ", "description: edited ", 1)
        flow_file.write_text(edited, encoding="utf-8")  # a designer's edit after the approval
        status, flow = await _get_json(fx, http, "/api/flows/payment_reminder")
        approval = flow["approval"]
        assert approval["status"] == "not_approved"
        assert any("the flow file changed" in c for c in approval["changes"])

        status, broken = await _get_json(fx, http, "/api/flows/dead-end")
        assert status == 200
        rules = {f["rule"] for f in broken["lint"]}
        assert "dead-end" in rules

        async with http.get(fx.url("/api/flows/payment_reminder/graph")) as r:
            assert r.status == 200 and r.content_type == "text/plain"
            graph = await r.text()
        assert "flowchart TD" in graph and "s_" in graph

        status, prompts = await _get_json(fx, http, "/api/prompts/en-US")
        assert status == 200 and prompts["locale"] == "en-US"
        assert prompts["prompts"]["disclosure"].startswith("Hello")

        for path, want, code in (
            ("/api/flows/no-such-flow", 404, "not_found"),
            ("/api/flows/bad.name", 400, "validation"),
            ("/api/flows/no-such-flow/graph", 404, "not_found"),
            ("/api/prompts/fr-FR", 404, "not_found"),
            ("/api/prompts/en_US!", 400, "validation"),
        ):
            status, answer = await _get_json(fx, http, path)
            assert (status, answer["error"]) == (want, code), path


async def test_agents_and_auditors_cannot_read_flows(tmp_path: Path) -> None:
    async with running_app(tmp_path, ROOT / "flows") as fx:
        for user in ("agent1", "auditor1"):
            async with fx.client() as http:
                status, _ = await fx.login(http, user)
                assert status == 200
                for path in DESIGNER_ROUTES:
                    status, answer = await _get_json(fx, http, path)
                    assert (status, answer["error"]) == (403, "forbidden"), f"{user} {path}"


async def _put(
    fx: WebFixture, http: aiohttp.ClientSession, name: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    token = await fx.csrf(http)
    async with http.put(
        fx.url(f"/api/flows/{name}"), json=body, headers={"X-CSRF-Token": token}
    ) as r:
        return r.status, await r.json()


async def test_designer_saves_a_flow_only_when_it_passes_the_lint(tmp_path: Path) -> None:
    folder = _flows(tmp_path)
    flow_file = folder / "payment_reminder.yaml"
    original = flow_file.read_text(encoding="utf-8")
    async with running_app(tmp_path, folder) as fx, fx.client() as http:
        await approve(fx.store, load_flow(flow_file), "Dana", at=fx.clock())
        status, _ = await fx.login(http, "designer1")
        assert status == 200
        _, flow = await _get_json(fx, http, "/api/flows/payment_reminder")
        base = flow["sha256"]

        # A version with a dead end is refused by the lint; the file stays as it was.
        broken = (FLOWS_BROKEN / "dead-end.yaml").read_text(encoding="utf-8")
        body = {"yaml": broken, "base_sha256": base}
        status, answer = await _put(fx, http, "payment_reminder", body)
        assert (status, answer["error"]) == (422, "lint_failed"), answer
        assert "dead-end" in {f["rule"] for f in answer["lint"]}
        assert all("/" not in f["file"] and ".edit-" not in f["file"] for f in answer["lint"])
        body = {"yaml": "states: [", "base_sha256": base}
        status, answer = await _put(fx, http, "payment_reminder", body)
        assert (status, answer["error"]) == (422, "flow_invalid")
        assert ".edit-" not in answer["message"]
        # Hostile text goes through the same guarded reader as files: one line, nothing written.
        bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n"
            for i in range(8)
        )
        for hostile, fault in ((bomb, "alias"), ("purpose: survey\x07\n", "control character")):
            body = {"yaml": hostile, "base_sha256": base}
            status, answer = await _put(fx, http, "payment_reminder", body)
            assert (status, answer["error"]) == (422, "flow_invalid"), answer
            assert (
                answer["message"].startswith("payment_reminder.yaml:")
                and fault in answer["message"]
            )
        # A NUL never reaches the reader: the JSON body reader refuses it for every route.
        body = {"yaml": "purpose: survey\x00\n", "base_sha256": base}
        status, answer = await _put(fx, http, "payment_reminder", body)
        assert (status, answer["error"]) == (400, "validation"), answer
        assert flow_file.read_text(encoding="utf-8") == original
        assert sorted(p.name for p in folder.iterdir()) == [
            "dead-end.yaml",
            "payment_reminder.yaml",
        ]

        edited = original.replace("description: ", "description: edited ", 1)
        body = {"yaml": edited, "base_sha256": base}
        status, saved = await _put(fx, http, "payment_reminder", body)
        assert status == 200, saved
        assert flow_file.read_text(encoding="utf-8") == edited

        async with fx.store.engine.connect() as conn:
            query = select(AUDIT_EVENTS).where(AUDIT_EVENTS.c.kind == FLOW_CHANGE)
            changes = [dict(r.detail) for r in await conn.execute(query)]
        assert [(c["actor"], c["flow"]) for c in changes] == [("designer1", "payment_reminder")]
        assert changes[0]["old_sha256"] == base and changes[0]["new_sha256"] == saved["sha256"]
        assert saved["approval"]["status"] == "not_approved"  # a reviewer must approve again
        assert any("the flow file changed" in c for c in saved["approval"]["changes"])

        # A save from the old version would overwrite someone's edit: refused.
        body = {"yaml": original, "base_sha256": base}
        status, answer = await _put(fx, http, "payment_reminder", body)
        assert (status, answer["error"]) == (409, "conflict")
        assert answer["sha256"] == saved["sha256"]
        assert flow_file.read_text(encoding="utf-8") == edited

        async with fx.store.engine.connect() as conn:
            query = select(AUDIT_EVENTS).where(AUDIT_EVENTS.c.kind == FLOW_CHANGE)
            changes = [dict(r.detail) for r in await conn.execute(query)]
        assert [(c["actor"], c["flow"]) for c in changes] == [("designer1", "payment_reminder")]
        assert changes[0]["old_sha256"] == base and changes[0]["new_sha256"] == saved["sha256"]
