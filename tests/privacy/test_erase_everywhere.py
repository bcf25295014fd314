"""After a call with a personalised prompt ("Hi Annabel, ...") and an agent's note that spells
the number, ``voicebot erase NUMBER`` leaves nothing of that number, nor the contact's name, in
any file under the data, cache and config directories, in any spelling.

Personalised renders never reach the TTS disk cache (the prompts every contact hears do), and
notes are redacted and sealed in the store, and emptied by the erasure.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.campaign_files import FLOW, approve_flow, one_contact_campaign
from voicebot.cli import cli
from voicebot.compliance.dispositions import Disposition, record_disposition
from voicebot.compliance.policy import load_policy
from voicebot.flow.loader import load_flow
from voicebot.privacy.notes import open_note
from voicebot.speech.tts.select import synthesizer_for
from voicebot.store import open_store
from voicebot.store.dispositions import CALL_DISPOSITIONS

NUMBER = "+12025550133"
NAME = "Annabel Quistgaard"
SPELLINGS = (
    NUMBER, NUMBER[1:], NUMBER[2:], "202-555-0133", "(202) 555-0133", "202 555 0133",
    "+1 202 555 0133", "+1 202-555-0133", "202.555.0133", "555-0133",
)  # fmt: skip
NOTE = f"Wants a call back on 202-555-0133 (or {NUMBER}), ask for {NAME}"


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    found = {}
    for kind in ("data", "cache", "config"):
        found[kind] = tmp_path / kind
        monkeypatch.setenv(f"XDG_{kind.upper()}_HOME", str(found[kind]))
    monkeypatch.delenv("VOICEBOT_VAULT", raising=False)
    monkeypatch.delenv("VOICEBOT_CACHE_DIR", raising=False)
    return found


async def _note_on_attempt_1() -> str:
    store = await open_store(str(_default_db()))
    try:
        await record_disposition(
            store, load_policy(), 1, Disposition.CALLBACK, "agent7",
            dt.datetime.now(dt.UTC), note=NOTE, callback_at=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        async with store.engine.connect() as conn:
            stored = (await conn.execute(CALL_DISPOSITIONS.select())).one().note
        return open_note(store.numbers, stored)
    finally:
        await store.close()


def _default_db() -> Path:
    from voicebot.store.location import default_db_path

    return default_db_path()


async def _renders() -> tuple[bool, bool]:
    """Whether the disk cache holds the disclosure, and the contact's personalised pitch."""
    loaded = load_flow(FLOW)
    assert loaded.prompts is not None
    synth = await synthesizer_for("en-US")
    company = {"company": loaded.flow.company}
    disclosure = loaded.prompts.render(loaded.flow.disclosure, company)
    pitch = loaded.prompts.render(
        "upgrade_offer_pitch", {**company, "name": NAME, "offer": "the 50 GB plan"}
    )
    return synth.cached(disclosure) is not None, synth.cached(pitch) is not None


def _leftovers(dirs: dict[str, Path]) -> list[str]:
    needles = [s.encode() for s in (*SPELLINGS, NAME, NAME.split()[0])]
    needles += [s.encode("utf-16-le") for s in (NUMBER, NAME)]
    found = []
    for root in dirs.values():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            found += [f"{path}: {n!r}" for n in needles if n in data]
    return found


@pytest.mark.integration
def test_erase_leaves_nothing_of_the_number_on_disk(dirs: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    camp = one_contact_campaign(tmp_path / "work", "spring", NUMBER, NAME)
    approve_flow(runner, [])
    ran = runner.invoke(
        cli,
        ["campaign", "run", str(camp), "--until-idle",
         "--policy", str(camp.parent / "policy.yaml")],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert (_default_db().parent / "vault" / "calls" / "1" / "recording.wav.vbv").is_file()
    shared, personal = asyncio.run(_renders())
    assert shared and not personal  # the disclosure is cached, "Hi Annabel, ..." never is

    kept = asyncio.run(_note_on_attempt_1())
    assert NAME in kept and "202-555-0133" not in kept and NUMBER not in kept  # masked
    erased = runner.invoke(cli, ["erase", NUMBER, "--actor", "dpo"])
    assert erased.exit_code == 0, erased.output
    assert "agents' notes emptied:      1" in erased.output
    assert _leftovers(dirs) == []


def test_renders_cached_by_an_earlier_version_are_removed(tmp_path: Path) -> None:
    import numpy as np

    from voicebot.speech.tts.cache import TtsCache, cache_key

    key = cache_key("piper", "en_US", f"Hi {NAME}, Northwind Mobile can upgrade your plan")
    legacy = tmp_path / key[:2] / f"{key}.wav"  # where version 1 kept every render
    legacy.parent.mkdir()
    legacy.write_bytes(b"RIFF personalised")
    unrelated = tmp_path / "db" / "notes.txt"
    unrelated.parent.mkdir()
    unrelated.write_text("not a cache entry")
    cache = TtsCache(tmp_path)
    cache.put("piper", "en_US", "Goodbye.", np.ones(160, dtype=np.int16))
    assert not legacy.exists() and not legacy.parent.exists()
    assert unrelated.is_file()
    assert cache.get("piper", "en_US", "Goodbye.") is not None
