"""The compliance, dnc and review commands, end to end on a temporary SQLite file."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from voicebot.cli import cli
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import load_policy
from voicebot.outcomes import Outcome
from voicebot.purpose import Purpose
from voicebot.store import open_store
from voicebot.store.location import ENV_VAR
from voicebot.store.models import ATTEMPTS, AUDIT_EVENTS, DNC_ENTRIES

CN = "+8613800138000"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = str(tmp_path / "cli.db")
    monkeypatch.setenv(ENV_VAR, path)  # never the user's data dir
    monkeypatch.delenv("VOICEBOT_POLICY", raising=False)
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def check_json(*args: str) -> dict[str, object]:
    result = invoke("compliance", "check", *args, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert isinstance(data, dict)
    return data


def count(db: str, table: object) -> int:
    async def run() -> int:
        store = await open_store(db)
        try:
            async with store.engine.connect() as conn:
                query = select(func.count()).select_from(table)  # type: ignore[arg-type]
                return int((await conn.execute(query)).scalar_one())
        finally:
            await store.close()

    return asyncio.run(run())


def test_done_when_examples(db: str) -> None:
    holiday = check_json(CN, "--purpose", "marketing", "--at", "2026-10-01T10:00:00+08:00")
    assert holiday["allowed"] is False
    assert holiday["reasons"] == ["holiday"]
    assert holiday["not_before"] == "2026-10-08T08:00:00+08:00"
    early = check_json(CN, "--purpose", "marketing", "--at", "2026-11-23T07:59:00+08:00")
    assert (early["allowed"], early["reasons"]) == (False, ["window"])
    assert early["not_before"] == "2026-11-23T08:00:00+08:00"
    noon = check_json(CN, "--purpose", "marketing", "--at", "2026-11-23T12:00:00+08:00")
    assert (noon["allowed"], noon["reasons"], noon["not_before"]) == (True, [], None)
    nyc = "+12125550123"
    assert check_json(nyc, "--purpose", "marketing", "--at", "2026-11-23T13:00:00Z")["allowed"]
    assert not check_json(nyc, "--purpose", "marketing", "--at", "2026-11-23T12:59:00Z")["allowed"]
    fail_closed = check_json(CN, "--purpose", "marketing", "--at", "2027-01-01T10:00:00+08:00")
    assert fail_closed["reasons"] == ["calendar_unknown"]
    # What-if only: nothing reserved, every decision audited.
    assert count(db, ATTEMPTS) == 0
    assert count(db, AUDIT_EVENTS) == 6


def test_invalid_number_is_a_clear_error_and_writes_nothing(db: str) -> None:
    result = invoke("compliance", "check", "+86138", "--purpose", "marketing")
    assert result.exit_code == 2
    assert "not a valid number for country code +86" in result.output
    result = invoke("compliance", "check", "13800138000", "--purpose", "marketing", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["reasons"] == ["invalid_number"]
    assert "starting with +" in result.stderr
    for command, expected in (
        (["compliance", "explain", "+86138"], "not a valid number"),
        (["dnc", "add", "12345"], "starting with +"),
    ):
        result = invoke(*command)
        assert result.exit_code == 2
        assert expected in result.output
    assert not Path(db).exists()  # not even an empty database was created


def test_at_without_offset_is_refused(db: str) -> None:
    result = invoke(
        "compliance", "check", CN, "--purpose", "marketing", "--at", "2026-11-23T12:00:00"
    )
    assert result.exit_code == 2
    assert "no UTC offset" in result.output


def test_malformed_policy_names_file_and_line(db: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("purposes:\n  marketing:\n    caps: {per_day: many}\n")
    result = invoke("compliance", "check", CN, "--purpose", "marketing", "--policy", str(policy))
    assert result.exit_code == 1
    assert f"{policy}:3:" in result.output and "per_day" in result.output


def test_dnc_add_list_export_remove_masked_by_default(db: str, tmp_path: Path) -> None:
    assert invoke("dnc", "add", CN).output.strip() == "added"
    assert invoke("dnc", "add", CN).output.strip() == "already on the list"
    listing = invoke("dnc", "list").output
    assert "138****8000" in listing and "13800138000" not in listing
    assert "13800138000" in invoke("dnc", "list", "--show-numbers").output
    exported = invoke("dnc", "export").output
    assert exported.splitlines()[1].startswith("+86 138****8000,,manual by ")
    out = tmp_path / "dnc.csv"
    invoke("dnc", "export", "--unmasked", "-o", str(out))
    assert out.read_text().splitlines()[1].startswith(f"{CN},")
    at = "2026-11-23T12:00:00+08:00"
    assert check_json(CN, "--purpose", "notification", "--at", at)["reasons"] == ["dnc"]
    assert invoke("dnc", "remove", CN).output.strip() == "removed 1"
    assert check_json(CN, "--purpose", "notification", "--at", at)["allowed"]
    assert invoke("dnc", "remove", CN).exit_code == 1


def test_dnc_import_is_all_or_nothing_with_file_and_line(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,number\nLi,+8613800138000\nWang,12345\nZhao,+8613900001111\n")
    result = invoke("dnc", "import", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:3:2: number:" in result.output
    assert count(db, DNC_ENTRIES) == 0
    good = tmp_path / "good.csv"
    good.write_text("+8613800138000\n+8613900001111\n\n+8613800138000\n")
    assert invoke("dnc", "import", str(good)).output.strip() == "added 2, already present 1"
    assert count(db, DNC_ENTRIES) == 2
    result = invoke("dnc", "import", str(good), "--campaign", "nope")
    assert result.exit_code == 1 and "no campaign named 'nope'" in result.output


def test_review_confirm_freezes_and_explain_shows_the_history(db: str) -> None:
    now = dt.datetime.fromisoformat("2026-11-23T12:00:00+08:00")

    async def refused_call() -> int:
        store = await open_store(db)
        try:
            gate = Gate(store, load_policy())
            decision = await gate.check_and_reserve(CN, "offer", Purpose.NOTIFICATION, now)
            assert decision.attempt_id is not None, decision
            effects = await gate.record_outcome(decision.attempt_id, Outcome.REFUSED, 12, now)
            assert effects.review_id is not None
            return effects.review_id
        finally:
            await store.close()

    review_id = asyncio.run(refused_call())
    listing = invoke("review", "list").output
    assert "138****8000" in listing and "1 items" in listing
    confirmed = invoke("review", "confirm", str(review_id), "--by", "lin")
    assert confirmed.exit_code == 0 and "frozen until" in confirmed.output
    assert invoke("review", "confirm", str(review_id)).exit_code == 1
    assert "0 items" in invoke("review", "list").output
    history = json.loads(invoke("compliance", "explain", CN, "--json").output)
    assert history["number"] == "+86 138****8000"
    assert [a["outcome"] for a in history["attempts"]] == ["refused"]
    assert [f["reason"] for f in history["freezes"]] == ["refusal"]
    assert history["freezes"][0]["source"] == f"review {review_id} confirmed by lin"
    text = invoke("compliance", "explain", CN).output
    assert "Attempts" in text and "refusal" in text and "13800138000" not in text
    assert "Erased: no" in text


def test_dnc_list_and_explain_say_when_a_number_was_erased(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEBOT_VAULT", str(tmp_path / "vault"))
    assert invoke("dnc", "add", "+8613800138001").output.strip() == "added"
    erased = invoke("erase", CN, "--actor", "dpo")
    assert erased.exit_code == 0, erased.output
    listing = invoke("dnc", "list").output
    assert "1 entries" in listing and "138****8001" in listing
    assert "and 1 erased number kept as keyed hashes only" in listing
    text = invoke("compliance", "explain", CN).output
    assert "Erased: yes" in text and "keyed hash" in text
    history = json.loads(invoke("compliance", "explain", CN, "--json").output)
    assert history["erased"] is True and history["attempts"] == [] and history["dnc"] == []
    assert (
        json.loads(invoke("compliance", "explain", "+8613800138001", "--json").output)["erased"]
        is False
    )


def test_dnc_import_takes_a_contacts_file_with_its_phone_column(db: str, tmp_path: Path) -> None:
    """A contacts file names its number column `phone`; the DNC import once wanted `number`."""
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("name,phone\nLi,+8613800138000\nAnn,+12025550144\n", encoding="utf-8")
    result = invoke("dnc", "import", str(contacts))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "added 2, already present 0"
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("name,email\nLi,li@example.test\n", encoding="utf-8")
    refused = invoke("dnc", "import", str(nothing))
    assert refused.exit_code == 1 and "'phone'" in refused.output and ":1:1:" in refused.output


def test_explain_never_truncates_its_columns_off_a_terminal(db: str) -> None:
    """Piped to a file, `compliance explain` once cut its columns to 80 characters (…)."""
    now = dt.datetime.fromisoformat("2026-11-23T12:00:00+08:00")

    async def attempt() -> None:
        store = await open_store(db)
        try:
            gate = Gate(store, load_policy())
            camp = "a-campaign-with-a-rather-long-descriptive-name"
            decision = await gate.check_and_reserve(CN, camp, Purpose.NOTIFICATION, now)
            assert decision.attempt_id is not None
            await gate.record_outcome(decision.attempt_id, Outcome.COMPLETED, 30, now)
        finally:
            await store.close()

    asyncio.run(attempt())
    text = invoke("compliance", "explain", CN).output
    assert "…" not in text
    assert "a-campaign-with-a-rather-long-descriptive-name" in text
    assert "2026-11-23 04:00:00" in text  # the reserved-at time, whole
