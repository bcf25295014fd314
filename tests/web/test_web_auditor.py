"""Auditors read campaigns, reports, calls and the call archive through the web API: numbers
masked everywhere, transcripts redacted, recordings decrypted in memory, every read audited in
the hash chain; agents and designers are refused before anything is read."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from click.testing import CliRunner
from sqlalchemy import select

from tests.audited_campaign import (
    ANSWERED,
    CAMPAIGN,
    NEVER_CALLED,
    NUMBERS,
    WAV,
    seed_campaign,
)
from tests.paths import FLOWS
from tests.web_support import WebFixture, running_app
from voicebot.call.archive import recording_name
from voicebot.cli import cli
from voicebot.privacy.audit_chain import verify
from voicebot.privacy.masking import mask_number
from voicebot.store.models import AUDIT_EVENTS

AUDITOR_ROUTES = (
    "/api/campaigns",
    f"/api/campaigns/{CAMPAIGN}/report",
    f"/api/campaigns/{CAMPAIGN}/calls",
    "/api/calls/{attempt}/transcript",
    "/api/calls/{attempt}/recording",
    "/api/calls/{attempt}/qa",
)


async def _get(http: aiohttp.ClientSession, fx: WebFixture, path: str) -> tuple[int, str, bytes]:
    async with http.get(fx.url(path), allow_redirects=False) as r:
        return r.status, r.content_type, await r.read()


async def _audit_rows(fx: WebFixture) -> list[Any]:
    async with fx.store.engine.connect() as conn:
        return list((await conn.execute(select(AUDIT_EVENTS).order_by(AUDIT_EVENTS.c.seq))).all())


def _no_full_number(text: str) -> None:
    for number in NUMBERS:
        assert number not in text and number[2:] not in text, f"{number} leaked: {text[:300]}"


async def test_auditor_reads_every_view_masked_and_audited(tmp_path: Path) -> None:
    async with running_app(tmp_path, FLOWS) as fx:
        answered, unanswered = await seed_campaign(fx, tmp_path)
        async with fx.client() as http:
            status, _ = await fx.login(http, "auditor1")
            assert status == 200

            status, kind, body = await _get(http, fx, "/api/campaigns")
            assert status == 200 and kind == "application/json"
            (summary,) = json.loads(body)["campaigns"]
            assert summary["name"] == CAMPAIGN and summary["contacts"] == 3
            assert summary["outcomes"] == {"completed": 1, "no_answer": 1}

            async with http.get(fx.url(f"/api/campaigns/{CAMPAIGN}/report")) as r:
                assert r.status == 200 and r.content_type == "text/html"
                assert "script-src" not in r.headers["Content-Security-Policy"]
                report = await r.text()
            assert f"Campaign {CAMPAIGN}" in report and mask_number(ANSWERED) in report
            assert "opt_out_instructions" in report  # the QA failure is flagged
            assert mask_number(NEVER_CALLED) in report and "not_yet_due" in report
            _no_full_number(report)

            status, _, body = await _get(http, fx, f"/api/campaigns/{CAMPAIGN}/calls")
            assert status == 200
            calls = {c["attempt"]: c for c in json.loads(body)["calls"]}
            assert calls[answered]["number"] == mask_number(ANSWERED) == "+1 202***0147"
            assert calls[answered]["outcome"] == "completed"
            assert calls[answered]["qa"] == {"passed": False, "failed": ["opt_out_instructions"]}
            assert calls[unanswered]["qa"] is None and calls[unanswered]["outcome"] == "no_answer"
            assert calls[answered]["finished_at"] is not None
            _no_full_number(body.decode())

            status, _, body = await _get(http, fx, f"/api/calls/{answered}/transcript")
            assert status == 200, body
            transcript = json.loads(body)
            assert [line["who"] for line in transcript["lines"]] == ["bot", "caller"]
            assert "[CARD]" in transcript["lines"][1]["text"] and "4111" not in body.decode()
            assert transcript["number"] == "+1 202***0147"
            assert "202***0147" in transcript["lines"][1]["text"]  # a spoken number, masked
            _no_full_number(body.decode())

            status, kind, wav = await _get(http, fx, f"/api/calls/{answered}/recording")
            assert status == 200 and kind == "audio/wav"
            assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and wav == WAV

            status, _, body = await _get(http, fx, f"/api/calls/{answered}/qa")
            assert status == 200
            qa = json.loads(body)
            assert qa["passed"] is False and qa["failed"] == ["opt_out_instructions"]
            assert [c["name"] for c in qa["checks"]] == ["disclosure_start", "opt_out_instructions"]
            _no_full_number(body.decode())

        rows = await _audit_rows(fx)
        kinds = [r.kind for r in rows]
        for kind in ("report_viewed", "calls_viewed", "transcript_viewed", "qa_viewed"):
            assert kind in kinds
        (access,) = [r for r in rows if r.kind == "recording_accessed"]
        assert access.detail["actor"] == "auditor1" and access.detail["attempt"] == answered
        assert access.attempt_id == answered and access.number_masked == "+1 202***0147"
        # The vault recorded its own reads (who, which file, why), after the console's row.
        opens = [r for r in rows if r.kind == "vault.open"]
        assert [r.detail["object"] for r in opens] == [
            f"calls/{answered}/transcript.json",
            recording_name(answered),
        ]
        assert all(r.detail["actor"] == "auditor1" for r in opens)
        for console_kind, name in (("transcript_viewed", f"calls/{answered}/transcript.json"),
                                   ("recording_accessed", recording_name(answered))):  # fmt: skip
            after = rows[kinds.index(console_kind) + 1]  # the console's row, then the vault's
            assert after.kind == "vault.open" and after.detail["object"] == name
        _no_full_number(json.dumps([dict(r.detail) for r in rows]))
        async with fx.store.engine.connect() as conn:
            chain = await conn.run_sync(lambda sync: verify(sync))
        assert chain.ok, chain.problems
        assert chain.rows == len(rows)
    # `voicebot audit verify` on the same database (in a thread: the command runs its own loop).
    args = ["audit", "verify", "--json", "--db", str(tmp_path / "web.db")]
    done = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert done.exit_code == 0, done.output
    verified = json.loads(done.output)
    assert verified["ok"] is True and verified["rows"] == len(rows)


async def test_absent_and_purged_recordings_are_a_clear_404(tmp_path: Path) -> None:
    async with running_app(tmp_path, FLOWS) as fx:
        answered, unanswered = await seed_campaign(fx, tmp_path)
        async with fx.client() as http:
            status, _ = await fx.login(http, "admin1")  # admins may too
            assert status == 200
            status, _, body = await _get(http, fx, f"/api/calls/{answered}/recording")
            assert status == 200 and body == WAV
            for attempt in (unanswered, answered):
                if attempt == answered:
                    assert fx.vault.delete(recording_name(answered))  # as retention does
                status, kind, body = await _get(http, fx, f"/api/calls/{attempt}/recording")
                answer = json.loads(body)
                assert status == 404 and kind == "application/json"
                assert answer["error"] == "not_found"
                assert f"attempt {attempt} has no recording" in answer["message"]
                assert "retention" in answer["message"]
            status, _, body = await _get(http, fx, f"/api/calls/{unanswered}/transcript")
            assert status == 404 and "has no transcript" in json.loads(body)["message"]
            status, _, body = await _get(http, fx, f"/api/calls/{unanswered}/qa")
            assert status == 404 and "no QA checklist" in json.loads(body)["message"]
            status, _, body = await _get(http, fx, "/api/calls/9999/recording")
            assert status == 404 and json.loads(body)["message"] == "no attempt 9999"
            status, _, body = await _get(http, fx, "/api/calls/abc/recording")
            assert status == 400 and json.loads(body)["error"] == "validation"
            status, _, body = await _get(http, fx, "/api/campaigns/nope/report")
            assert status == 404 and "no campaign named 'nope'" in json.loads(body)["message"]
        rows = await _audit_rows(fx)
        # Only the one successful play was audited as an access; absent files were not read.
        assert [r.attempt_id for r in rows if r.kind == "recording_accessed"] == [answered]
        assert len([r for r in rows if r.kind == "vault.open"]) == 1


async def test_agents_and_designers_are_refused_before_anything_is_read(tmp_path: Path) -> None:
    async with running_app(tmp_path, FLOWS) as fx:
        answered, _ = await seed_campaign(fx, tmp_path)
        before = len(await _audit_rows(fx))
        for user in ("agent1", "designer1"):
            async with fx.client() as http:
                status, _ = await fx.login(http, user)
                assert status == 200
                for route in AUDITOR_ROUTES:
                    status, kind, body = await _get(http, fx, route.format(attempt=answered))
                    assert status == 403, f"{user} {route}"
                    if kind == "application/json":
                        assert json.loads(body)["error"] == "forbidden"
                    else:  # the report is a page: refused with a page
                        assert route.endswith("/report") and b"not allow" in body
                async with http.get(fx.url("/audit"), allow_redirects=False) as r:
                    assert r.status == 403
        rows = (await _audit_rows(fx))[before:]
        assert {r.kind for r in rows} == {"login"}  # no read, no vault access


async def test_auditor_page_is_served_and_uses_the_api(tmp_path: Path) -> None:
    async with running_app(tmp_path, FLOWS) as fx, fx.client() as http:
        status, _ = await fx.login(http, "auditor1")
        assert status == 200
        status, kind, page = await _get(http, fx, "/audit")
        assert status == 200 and kind == "text/html"
        assert b'src="/static/audit.js"' in page
        status, kind, script = await _get(http, fx, "/static/audit.js")
        assert status == 200 and kind == "text/javascript"
        for route in ("/api/campaigns", "/calls`", "/transcript`", "/recording`", "/report`"):
            assert route.encode() in script
