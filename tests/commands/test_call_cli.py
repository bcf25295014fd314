"""``voicebot call`` as the README shows it: both transports are accepted, missing contact
values are refused before anything is dialled, and a call without the gate does not claim a
do-not-call entry it never wrote."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.paths import ROOT
from voicebot.cli import cli

SURVEY = str(ROOT / "flows" / "satisfaction_survey.yaml")
NUMBER = "+12025550143"  # reserved for fiction (555-01xx)


@pytest.fixture
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    return tmp_path


def test_missing_contact_value_is_refused_before_dialling(private_dirs: Path) -> None:
    done = CliRunner().invoke(
        cli, ["call", NUMBER, "--flow", SURVEY, "--persona", "presses_nine", "--no-gate"]
    )
    assert done.exit_code == 2, done.output
    assert "--contact name=" in done.output and "nothing was dialled" in done.output
    assert "dial" not in done.output.replace("nothing was dialled", "")
    assert "calling" not in done.output


def test_an_unknown_persona_or_a_broken_book_is_said_before_any_speech_model_loads(
    private_dirs: Path,
) -> None:
    # Unmarked (fast tier): loading Piper or pocketsphinx here would fail the test (conftest).
    args = ["call", NUMBER, "--flow", SURVEY, "--contact", "name=Alex", "--no-gate"]
    done = CliRunner().invoke(cli, [*args, "--persona", "nobody"])
    assert done.exit_code == 1, done.output
    assert "no persona 'nobody'; known:" in done.output and "presses_nine" in done.output
    book = private_dirs / "personas.yaml"
    book.write_text("personas:\n  odd:\n    answer: [\n", encoding="utf-8")
    done = CliRunner().invoke(cli, [*args, "--persona", "odd", "--personas", str(book)])
    assert done.exit_code == 1, done.output
    assert f"{book}:" in done.output and "Traceback" not in done.output
    assert "calling" not in done.output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.integration
def test_janus_transport_is_accepted_and_an_unreachable_gateway_is_said_clearly(
    private_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = private_dirs / "policy.yaml"
    policy.write_text(
        'purposes:\n  survey:\n    window: {start: "00:00", end: "23:59:59"}\n'
        "    holidays: {public: false, weekends: false, extra_dates: []}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("VOICEBOT_JANUS_URL", f"http://127.0.0.1:{_closed_port()}/janus")
    monkeypatch.setenv("VOICEBOT_JANUS_TRUNK", "sip:{number}@127.0.0.1")
    monkeypatch.setenv("VOICEBOT_JANUS_ACCOUNT", "sip:voicebot@127.0.0.1")
    monkeypatch.setenv("VOICEBOT_JANUS_HOST", "127.0.0.1")
    args = ["call", NUMBER, "--flow", SURVEY, "--contact", "name=Alex", "--transport", "janus"]
    done = CliRunner().invoke(cli, [*args, "--policy", str(policy)])
    assert "invalid choice" not in done.output
    assert done.exit_code == 0, done.output  # placed through the gate; the gateway failed
    said = " ".join(done.output.split())  # the console wraps long lines
    assert "outcome: failed" in said and "did not answer" in said
    assert "Traceback" not in done.output
    refused = CliRunner().invoke(cli, [*args, "--no-gate"])
    assert refused.exit_code == 2 and "a real phone is gated" in refused.output


@pytest.mark.integration
def test_no_gate_opt_out_does_not_claim_a_durable_entry(private_dirs: Path) -> None:
    done = CliRunner().invoke(
        cli,
        ["call", NUMBER, "--flow", SURVEY, "--persona", "presses_nine", "--no-gate",
         "--contact", "name=Alex", "--json"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    result = json.loads(done.output[done.output.index("{\n") :])
    assert result["outcome"] == "opted_out"
    kinds = [entry["kind"] for entry in result["log"]]
    assert "dnc_committed" not in kinds
    details = [e.get("detail", "") for e in result["log"] if e["kind"] == "action"]
    assert any("not written" in d for d in details), details
    assert not any("durable" in d for d in details)


@pytest.mark.parametrize(("scope", "entries"), [("campaign", ["spring"]), ("global", [None])])
@pytest.mark.integration
def test_opt_out_honours_the_policy_scope(
    private_dirs: Path, scope: str, entries: list[str | None]
) -> None:
    """``voicebot call`` puts an opt-out on the list in the policy's ``opt_out_scope``, as the
    dialer does (one path): scope ``campaign`` leaves the number callable by other campaigns."""
    import asyncio

    from voicebot.compliance import dnc
    from voicebot.qa.store import load_qa
    from voicebot.store import open_store

    policy = private_dirs / "policy.yaml"
    policy.write_text(
        f"do_not_call: {{opt_out_scope: {scope}}}\n"
        'purposes:\n  survey:\n    window: {start: "00:00", end: "23:59:59"}\n'
        "    holidays: {public: false, weekends: false, extra_dates: []}\n",
        encoding="utf-8",
    )
    db = str(private_dirs / "calls.db")
    done = CliRunner().invoke(
        cli,
        ["call", NUMBER, "--flow", SURVEY, "--persona", "presses_nine", "--campaign", "spring",
         "--contact", "name=Alex", "--policy", str(policy), "--db", db, "--json"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    result = json.loads(done.output[done.output.index("{\n") :])
    assert result["outcome"] == "opted_out"
    attempt = result["decision"]["attempt_id"]

    async def stored() -> tuple[list[str | None], int]:
        store = await open_store(db)
        try:
            listed = await dnc.entries(store, NUMBER)
            return [e.campaign for e in listed], len(await load_qa(store, attempt=attempt))
        finally:
            await store.close()

    campaigns, checklists = asyncio.run(stored())
    assert campaigns == entries  # one entry, in the policy's scope (the rules' re-add is a no-op)
    assert checklists == 1  # the per-call QA checklist is stored, as for a dialer's call
