"""A call's recording and transcript reach the disk only encrypted, the transcript redacted."""

from __future__ import annotations

import json
from pathlib import Path

from voicebot.call.archive import VaultRecordingSink, store_transcript
from voicebot.flow.events import TranscriptLine
from voicebot.privacy.vault.keys import Keyring, MasterKey
from voicebot.privacy.vault.vault import Vault

CARD = "4111 1111 1111 1111"


def _vault(tmp_path: Path, reads: list[tuple[str, str, str, str]]) -> Vault:
    keyring = Keyring(MasterKey.generate())
    return Vault(tmp_path / "vault", keyring, lambda *a: reads.append(a))


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_recording_is_encrypted_under_the_attempt(tmp_path: Path) -> None:
    reads: list[tuple[str, str, str, str]] = []
    vault = _vault(tmp_path, reads)
    wav = b"RIFF" + b"caller-voice-marker" * 100
    reference = VaultRecordingSink(vault, 42).store("ignored", wav)
    assert reference == "vault:calls/42/recording.wav"
    assert b"caller-voice-marker" not in _all_bytes(tmp_path / "vault")
    assert vault.open("calls/42/recording.wav", "qa", "auditor") == wav
    assert reads and reads[0][1] == "vault.open"


def test_transcript_is_redacted_then_encrypted(tmp_path: Path) -> None:
    vault = _vault(tmp_path, [])
    lines = [
        TranscriptLine("bot", "Please confirm your card."),
        TranscriptLine("caller", f"It is {CARD}, thanks"),
    ]
    reference, redactions = store_transcript(vault, 7, lines, "en-US")
    assert reference == "vault:calls/7/transcript.json" and redactions == 1
    raw = _all_bytes(tmp_path / "vault")
    assert b"4111" not in raw and b"thanks" not in raw
    stored = json.loads(vault.open("calls/7/transcript.json", "qa", "auditor"))
    assert stored[1]["who"] == "caller"
    assert "4111" not in stored[1]["text"] and "[CARD]" in stored[1]["text"]
