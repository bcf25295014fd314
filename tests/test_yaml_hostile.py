"""Hostile YAML in every kind of file a person writes: one clear line naming the file and the
fault, a non-zero exit, never a traceback, nothing else done."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.paths import ROOT
from voicebot.cli import cli
from voicebot.yamlsource import MAX_FILE_BYTES, SourceErrors, load_yaml, parse_yaml

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
)
"""A "billion laughs": 10^9 values from a few hundred bytes."""

HOSTILE: dict[str, tuple[Callable[[Path], object], str]] = {
    "alias-bomb": (lambda p: p.write_text(BOMB, encoding="utf-8"), "alias"),
    "nul": (lambda p: p.write_bytes(b"purpose: survey\nlocale: en\x00-US\n"), "control character"),
    "bel": (lambda p: p.write_bytes(b"purpose: survey\x07\n"), "control character"),
    "too-big": (
        lambda p: p.write_text("# padding\n" * (MAX_FILE_BYTES // 10 + 1), encoding="utf-8"),
        "at most",
    ),
    "directory": (lambda p: p.mkdir(), "directory"),
    "not-utf8": (lambda p: p.write_bytes(b"purpose: \xff\xfe survey\n"), "UTF-8"),
}


def _flow_command(tmp: Path, target: Path) -> list[str]:
    return ["flow", "lint", str(target)]


def _prompts_command(tmp: Path, target: Path) -> list[str]:
    flows = tmp / "flows"
    flows.mkdir()
    shutil.copy(ROOT / "flows" / "satisfaction_survey.yaml", flows / "survey.yaml")
    return ["flow", "lint", "--prompts", str(target.parent), str(flows / "survey.yaml")]


def _campaign_command(tmp: Path, target: Path) -> list[str]:
    return ["campaign", "run", str(target), "--db", str(tmp / "c.db")]


def _policy_command(tmp: Path, target: Path) -> list[str]:
    return [
        "compliance", "check", "+12025550101", "--purpose", "survey",
        "--policy", str(target), "--db", str(tmp / "c.db"),
    ]  # fmt: skip


def _personas_command(tmp: Path, target: Path) -> list[str]:
    return [
        "call", "+12025550143", "--flow", str(ROOT / "flows" / "satisfaction_survey.yaml"),
        "--persona", "presses_nine", "--personas", str(target), "--no-gate",
        "--contact", "name=Alex",
    ]  # fmt: skip


KINDS: dict[str, tuple[str, Callable[[Path, Path], list[str]]]] = {
    "flow": ("flow.yaml", _flow_command),
    "prompts": ("prompts/en-US.yaml", _prompts_command),
    "campaign": ("campaign.yaml", _campaign_command),
    "policy": ("policy.yaml", _policy_command),
    "personas": ("personas.yaml", _personas_command),
}


STARTS_REAL_PARTS = {"personas"}
"""Kinds whose command loads a speech recognizer (pocketsphinx) before it reads the file."""


@pytest.mark.parametrize("fault", sorted(HOSTILE))
@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(kind, marks=[pytest.mark.integration] if kind in STARTS_REAL_PARTS else [])
        for kind in sorted(KINDS)
    ],
)
def test_hostile_file_gives_one_clear_line(tmp_path: Path, kind: str, fault: str) -> None:
    name, command = KINDS[kind]
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    write, expected = HOSTILE[fault]
    write(target)
    result = CliRunner().invoke(cli, command(tmp_path, target))
    output = result.output
    assert result.exit_code in (1, 2), output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output
    assert expected.lower() in output.lower(), output
    assert target.name in output, output
    assert output.count(target.name) <= 3, output  # one line about it, not a dump


def test_bomb_is_stopped_quickly_and_says_where() -> None:
    with pytest.raises(SourceErrors, match=r"^bomb\.yaml:\d+:\d+: YAML syntax: more than"):
        parse_yaml(BOMB, "bomb.yaml")


def test_nul_is_pinned_to_its_line_and_column() -> None:
    with pytest.raises(SourceErrors, match=r"^x\.yaml:2:11: control character '\\x00'"):
        parse_yaml("a: 1\nlocale: en\x00\n", "x.yaml")


def test_merge_keys_and_bom_are_read(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"\xef\xbb\xbfbase: &b {x: 1, y: 2}\r\nother:\r\n  <<: *b\r\n  y: 3\r\n")
    assert load_yaml(path).data == {"base": {"x": 1, "y": 2}, "other": {"x": 1, "y": 3}}
    with pytest.raises(SourceErrors, match="duplicate key 'y'"):
        parse_yaml("o:\n  y: 1\n  y: 2\n")
