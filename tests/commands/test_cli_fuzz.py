"""Every ``voicebot`` command, each option and argument in turn given a hostile value: a clean
exit (0-3) with at most a short error, never a traceback or an exception escaping click.

Commands that start long work on valid input (a server, a demo, benchmarks, a live call,
a model download, speech synthesis) are left to their own tests; every other command is here.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.paths import ROOT
from voicebot.cli import cli

LONG_RUNNING = {"serve", "demo", "bench", "call", "models pull", "prompts render"}
HOSTILE = (
    "",
    " ",
    "-1",
    "0",
    "1e309",
    "nan",
    "-inf",
    "99999999999999999999999",
    "0001-01-01T00:00+00:00",
    "9999-12-31T23:59:59-23:59",
    "2026-13-45T25:61+99:00",
    "mysql://x",
    "postgresql://127.0.0.1:1/nobody",  # a refused port: never a real server
    "sqlite:////no/such/folder/x.db",
    "{dir}",
    "{missing}",
    "{file}",
    "\x07bell",
    "💥💥💥",
    "a" * 3000,
    "../..",
    "+86 138 0013 8000",
    "+12025550101",
    "%s%n{0}",
    "=",
    "name=",
    "dtmf:",
    "say:",
)
BENIGN = {
    "number": "+12025550101",
    "name": "nobody",
    "item_id": "1",
    "text": "not interested",
    "purpose": "survey",
    "roles": "designer",
    "file": "{flow}",
    "files": "{flow}",
    "flow_file": "{flow}",
    "csv_file": "{missing}",
}


def _commands(group: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(group, click.Group):
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            sub = group.get_command(ctx, name)
            assert sub is not None
            yield from _commands(sub, (*path, name))
    else:
        yield path


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    for name in path:
        assert isinstance(cmd, click.Group)
        found = cmd.get_command(click.Context(cmd), name)
        assert found is not None
        cmd = found
    return cmd


COMMANDS = [
    p for p in _commands(cli) if not any(" ".join(p[: len(k.split())]) == k for k in LONG_RUNNING)
]
TARGETS = [
    (path, param.name)
    for path in COMMANDS
    for param in _command(path).params
    if param.name and not getattr(param, "is_flag", False) and param.name != "help"
]


def _value(template: str, scratch: Path) -> str:
    places = {
        "{dir}": str(scratch),
        "{missing}": str(scratch / "missing.yaml"),
        "{file}": str(scratch / "plain.txt"),
        "{flow}": str(scratch / "flow.yaml"),
    }
    return places.get(template, template)


def _argv(path: tuple[str, ...], target: str, hostile: str, scratch: Path) -> list[str]:
    argv = list(path)
    options: list[str] = []
    for param in _command(path).params:
        if getattr(param, "is_flag", False) or param.name is None:
            continue
        value = hostile if param.name == target else BENIGN.get(param.name)
        if param.name != target and not param.required:
            if param.name == "db":
                value = str(scratch / "fuzz.db")
            else:
                continue
        if value is None:
            value = "x"
        value = _value(value, scratch)
        if isinstance(param, click.Argument):
            argv.append(value)
        else:
            options += [param.opts[0], value]
    # Options first, then "--" so that a hostile argument starting with "-" stays an argument.
    arguments = argv[len(path) :]
    return [*path, *options, "--", *arguments] if arguments else [*path, *options]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(ROOT / "flows" / "satisfaction_survey.yaml", folder / "flow.yaml")
    shutil.copytree(ROOT / "prompts", folder / "prompts")
    (folder / "plain.txt").write_text("not yaml: [\n", encoding="utf-8")
    return folder


def _env(scratch: Path) -> dict[str, str]:
    return {
        "XDG_DATA_HOME": str(scratch / "data"),
        "XDG_CONFIG_HOME": str(scratch / "config"),
        "XDG_CACHE_HOME": str(scratch / "cache"),
        "VOICEBOT_DB": str(scratch / "fuzz.db"),
    }


def _check(scratch: Path, argv: list[str]) -> None:
    with contextlib.chdir(scratch):  # relative hostile paths land in the scratch folder
        result = CliRunner().invoke(cli, argv, env=_env(scratch), input="")
    shown = " ".join(repr(a) if len(a) < 60 else repr(a[:57] + "...") for a in argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"voicebot {shown} raised {type(result.exception).__name__}: {result.exception}"
    )
    assert result.exit_code in (0, 1, 2, 3), f"voicebot {shown}: exit {result.exit_code}"
    assert "Traceback" not in result.output, f"voicebot {shown}:\n{result.output}"


@pytest.mark.parametrize(
    "argv",
    [
        [
            "compliance",
            "check",
            "+12025550101",
            "--purpose",
            "survey",
            "--at",
            "0001-01-01T00:00+00:00",
        ],
        ["dnc", "list", "--db", "mysql://x"],
        ["dnc", "list", "--db", "{dir}"],
        ["audit", "list", "--db", "sqlite:////no/such/folder/x.db"],
        ["purge", "--at", "0001-01-01T00:00+00:00"],
        ["flow", "lint", "{dir}"],
    ],
    ids=["at-overflow", "db-mysql", "db-directory", "db-no-folder", "purge-at", "empty-dir"],
)
def test_reported_cases_exit_cleanly_with_one_line(scratch: Path, argv: list[str]) -> None:
    argv = [_value(a, scratch) for a in argv]
    empty = scratch / "empty"
    empty.mkdir(exist_ok=True)
    argv = [str(empty) if a == str(scratch) and argv[0] == "flow" else a for a in argv]
    result = CliRunner().invoke(cli, argv, env=_env(scratch))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code in (1, 2), result.output
    errors = [line for line in result.output.splitlines() if "rror" in line]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output


def test_every_command_is_fuzzed() -> None:
    fuzzed = {path for path, _ in TARGETS}
    takes_values = {
        p
        for p in COMMANDS
        if any(not getattr(q, "is_flag", False) and q.name != "help" for q in _command(p).params)
    }
    assert fuzzed >= takes_values
    assert len(COMMANDS) >= 30


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(target=st.sampled_from(TARGETS), hostile=st.sampled_from(HOSTILE))
def test_hostile_option_values_exit_cleanly(
    scratch: Path, target: tuple[tuple[str, ...], str], hostile: str
) -> None:
    path, name = target
    _check(scratch, _argv(path, name, hostile, scratch))
