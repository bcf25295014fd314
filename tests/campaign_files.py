"""A one-contact loopback campaign written to disk, and a designer to approve its flow: what the
CLI-level vault and erasure tests start from."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tests.paths import FLOWS
from voicebot.cli import cli

FLOW = FLOWS / "upgrade_offer.yaml"


def one_contact_campaign(folder: Path, name: str, number: str, person: str) -> Path:
    """A campaign file calling one `presses_nine` persona, callable at any hour and day."""
    folder.mkdir()
    (folder / "contacts.csv").write_text(
        f"number,name,offer,persona\n{number},{person},the 50 GB plan,presses_nine\n",
        encoding="utf-8",
    )
    (folder / "policy.yaml").write_text(
        "purposes:\n  marketing:\n"
        '    window: {start: "00:00", end: "23:59:59"}\n'
        "    holidays: {public: false, weekends: false, extra_dates: []}\n",
        encoding="utf-8",
    )
    path = folder / "camp.yaml"
    path.write_text(
        f"name: {name}\nflow: {FLOW.as_posix()}\ncontacts: contacts.csv\n"
        'caller_id: "+12025550100"\ndefault_region: US\ntransport: loopback\nring_timeout: 5\n',
        encoding="utf-8",
    )
    return path


def approve_flow(runner: CliRunner, db: list[str]) -> None:
    """Register the designer Dana and approve FLOW in her name (approvals need a designer)."""
    added = runner.invoke(
        cli, ["users", "add", "Dana", "--role", "designer", "--password-stdin", *db],
        input="a long enough passphrase 42\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    done = runner.invoke(cli, ["flow", "approve", str(FLOW), "--reviewer", "Dana", *db])
    assert done.exit_code == 0, done.output
