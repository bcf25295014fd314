"""Approved scripts only: an approval hashes a flow and its prompts; changes are named, refused."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from tests.paths import ROOT
from voicebot.cli import cli
from voicebot.flow.approval import (
    NotApproved,
    UnapprovableFlow,
    approve,
    check_approved,
    fingerprint,
    record_dev_override,
)
from voicebot.flow.lint import LINT_VERSION
from voicebot.flow.loader import load_flow
from voicebot.store import Store, open_store
from voicebot.store.models import AUDIT_EVENTS, FLOW_APPROVALS


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A flow file with its prompts folder, as a business keeps them."""
    (tmp_path / "flows").mkdir()
    (tmp_path / "prompts").mkdir()
    shutil.copy(ROOT / "flows" / "satisfaction_survey.yaml", tmp_path / "flows" / "survey.yaml")
    shutil.copy(ROOT / "prompts" / "en-US.yaml", tmp_path / "prompts" / "en-US.yaml")
    return tmp_path


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "v.db"))
    yield opened
    await opened.close()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


async def test_never_approved_is_refused(project: Path, store: Store) -> None:
    with pytest.raises(NotApproved, match="never approved"):
        await check_approved(load_flow(project / "flows" / "survey.yaml"), store)


async def test_approval_covers_exactly_this_version(project: Path, store: Store) -> None:
    flow_file = project / "flows" / "survey.yaml"
    made = await approve(store, load_flow(flow_file), "Dana Reviewer")
    found = await check_approved(load_flow(flow_file), store)
    assert found.id == made.id and found.reviewer == "Dana Reviewer"
    assert len(found.digest) == 64

    # Comments and layout are not the script: still approved.
    _edit(flow_file, "# Survey call", "# Survey call (reviewed)")
    _edit(flow_file, "timeout: 6", "timeout:   6")
    assert (await check_approved(load_flow(flow_file), store)).id == made.id

    # A prompt the flow never says is not part of its approval.
    _edit(project / "prompts" / "en-US.yaml", "new offer for you", "newer offer for you")
    assert (await check_approved(load_flow(flow_file), store)).id == made.id

    # A changed disclosure text is refused, naming the prompt.
    _edit(
        project / "prompts" / "en-US.yaml", "This call is recorded.", "This call may be recorded."
    )
    with pytest.raises(NotApproved) as refused:
        await check_approved(load_flow(flow_file), store)
    assert refused.value.changes == (
        "the text of prompt 'disclosure' changed since the approval of "
        f"{made.approved_at:%Y-%m-%d %H:%M} UTC by Dana Reviewer",
    )

    # Changing it back makes the approved version again.
    _edit(
        project / "prompts" / "en-US.yaml", "This call may be recorded.", "This call is recorded."
    )
    assert (await check_approved(load_flow(flow_file), store)).id == made.id


async def test_flow_changes_and_new_prompts_are_named(project: Path, store: Store) -> None:
    flow_file = project / "flows" / "survey.yaml"
    await approve(store, load_flow(flow_file), "Dana")
    _edit(flow_file, "say: [survey_question]", "say: [survey_question, goodbye]")
    with pytest.raises(NotApproved) as refused:
        await check_approved(load_flow(flow_file), store)
    changes = refused.value.changes
    assert changes[0].startswith("the flow file changed")
    assert changes[1].startswith("prompt 'goodbye' is new")
    assert len(changes) == 2
    # A second approval covers the new version; the old one still covers the old version.
    newer = await approve(store, load_flow(flow_file), "Lee")
    assert (await check_approved(load_flow(flow_file), store)).id == newer.id


async def test_approvals_and_dev_overrides_are_audited(project: Path, store: Store) -> None:
    loaded = load_flow(project / "flows" / "survey.yaml")
    approved = await approve(store, loaded, "Dana")
    _edit(project / "flows" / "survey.yaml", "retries: 2", "retries: 3")
    changed = load_flow(project / "flows" / "survey.yaml")
    with pytest.raises(NotApproved) as refused:
        await check_approved(changed, store)
    await record_dev_override(store, changed, refused.value)
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(AUDIT_EVENTS.c.kind, AUDIT_EVENTS.c.detail).order_by(AUDIT_EVENTS.c.id)
            )
        ).all()
    assert [r.kind for r in rows] == ["flow_approved", "flow_unapproved_dev"]
    assert rows[0].detail["hash"] == approved.digest and rows[0].detail["reviewer"] == "Dana"
    assert rows[1].detail["flow"] == "satisfaction_survey"
    assert rows[1].detail["changes"][0].startswith("the flow file changed")


def test_the_hash_covers_the_flow_and_every_prompt_it_says(project: Path) -> None:
    loaded = load_flow(project / "flows" / "survey.yaml")
    fp = fingerprint(loaded)
    prompts = sorted(k.removeprefix("prompt:") for k in fp.parts if k.startswith("prompt:"))
    assert "disclosure" in prompts and "opt_out_confirm" in prompts
    assert "marketing_offer_pitch" not in prompts
    assert fingerprint(load_flow(project / "flows" / "survey.yaml")) == fp


def test_a_flow_with_a_missing_prompt_cannot_be_approved(project: Path) -> None:
    _edit(project / "prompts" / "en-US.yaml", "survey_thanks:", "survey_thanks_old:")
    with pytest.raises(UnapprovableFlow, match="survey_thanks"):
        fingerprint(load_flow(project / "flows" / "survey.yaml"))


def _add_user(runner: CliRunner, db: str, name: str, role: str) -> None:
    added = runner.invoke(
        cli,
        ["users", "add", name, "--role", role, "--password-stdin", "--db", db],
        input="a long enough passphrase 42\n",
    )
    assert added.exit_code == 0, added.output


@pytest.mark.parametrize(
    ("who", "role", "why"),
    [("Nobody", None, "no such user"), ("Ari", "agent", "role"), ("Aud", "auditor", "role")],
)
def test_reviewer_must_be_a_registered_designer_or_admin(
    project: Path, tmp_path: Path, who: str, role: str | None, why: str
) -> None:
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    if role is not None:
        _add_user(runner, db, who, role)
    flow_file = str(project / "flows" / "survey.yaml")
    refused = runner.invoke(cli, ["flow", "approve", flow_file, "--reviewer", who, "--db", db])
    assert refused.exit_code == 1
    assert f"reviewer {who!r} is not an enabled designer or admin ({why})" in refused.output
    assert "Traceback" not in refused.output
    _add_user(runner, db, "Ada", "admin")
    ok = runner.invoke(cli, ["flow", "approve", flow_file, "--reviewer", "Ada", "--db", db])
    assert ok.exit_code == 0, ok.output


def _break_voicemail(project: Path) -> None:
    """The survey's voicemail message without the disclosure (what lint 1 let through)."""
    _edit(
        project / "flows" / "survey.yaml",
        "say: [disclosure, survey_voicemail]",
        "say: [survey_voicemail]",
    )


def test_a_flow_with_lint_errors_cannot_be_approved(project: Path, tmp_path: Path) -> None:
    _break_voicemail(project)
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    _add_user(runner, db, "Dana", "designer")
    flow_file = str(project / "flows" / "survey.yaml")
    refused = runner.invoke(cli, ["flow", "approve", flow_file, "--reviewer", "Dana", "--db", db])
    assert refused.exit_code == 1
    assert "a flow with lint errors cannot be approved" in refused.output
    assert "disclosure-first: prompt 'survey_voicemail'" in refused.output
    assert "path: voicemail: voicemail_message" in refused.output


async def test_a_lint_upgrade_that_finds_an_error_voids_the_approval(
    project: Path, store: Store
) -> None:
    # An approval stored by lint 1 (no lint version recorded) of the flow as lint 1 let it be.
    _break_voicemail(project)
    loaded = load_flow(project / "flows" / "survey.yaml")
    fp = fingerprint(loaded)
    async with store.write() as conn:
        await conn.execute(
            insert(FLOW_APPROVALS).values(
                flow_name=fp.flow_name,
                locale=fp.locale,
                flow_hash=fp.digest,
                parts=fp.parts,
                reviewer="Dana",
                approved_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
            )
        )
    with pytest.raises(NotApproved) as info:
        await check_approved(loaded, store)
    assert any(
        f"lint {LINT_VERSION} finds an error lint 1 did not" in c and "survey_voicemail" in c
        for c in info.value.changes
    ), info.value.changes
    # The flow fixed and approved again under this lint: approved, with the version kept.
    _edit(
        project / "flows" / "survey.yaml",
        "say: [survey_voicemail]",
        "say: [disclosure, survey_voicemail]",
    )
    fixed = load_flow(project / "flows" / "survey.yaml")
    await approve(store, fixed, "Dana")
    assert (await check_approved(fixed, store)).reviewer == "Dana"
    async with store.engine.connect() as conn:
        parts = (await conn.execute(select(FLOW_APPROVALS.c.parts))).scalars().all()
    assert [p.get("lint") for p in parts] == [None, LINT_VERSION]


def test_flow_approve_command(project: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    flow_file = str(project / "flows" / "survey.yaml")
    runner = CliRunner()
    no_reviewer = runner.invoke(cli, ["flow", "approve", flow_file, "--db", db])
    assert no_reviewer.exit_code == 2 and "--reviewer" in no_reviewer.output
    unapproved = runner.invoke(cli, ["flow", "approve", flow_file, "--check", "--db", db])
    assert unapproved.exit_code == 1 and "never approved" in unapproved.output
    _add_user(runner, db, "Dana", "designer")
    done = runner.invoke(cli, ["flow", "approve", flow_file, "--reviewer", "Dana", "--db", db])
    assert done.exit_code == 0, done.output
    assert "approved satisfaction_survey (en-US) sha256 " in done.output
    ok = runner.invoke(cli, ["flow", "approve", flow_file, "--check", "--db", db])
    assert ok.exit_code == 0 and "by Dana" in ok.output
    _edit(project / "prompts" / "en-US.yaml", "press 9 at any time", "press 9")
    changed = runner.invoke(cli, ["flow", "approve", flow_file, "--check", "--db", db])
    assert changed.exit_code == 1
    assert "the text of prompt 'disclosure' changed" in changed.output
