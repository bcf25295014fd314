"""``voicebot prompts render``: every prompt of a flow into the cache, the disclosure always."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from voicebot.commands.prompts import prompt_ids, prompts
from voicebot.flow.loader import load_flow
from voicebot.resources import flows_dir, prompts_dir
from voicebot.speech.tts import TtsCache, prerendered
from voicebot.speech.tts.edge import PROBE_ENV, forget_probes


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(PROBE_ENV, f"127.0.0.1:{port}")
    monkeypatch.delenv("VOICEBOT_TTS", raising=False)
    forget_probes()


def test_prompt_ids_cover_say_reprompt_and_handoff_prompts() -> None:
    flow = load_flow(flows_dir() / "payment_reminder.yaml").flow
    ids = prompt_ids(flow)
    assert ids[0] == "disclosure"
    assert {"payment_reminder_reprompt", "transfer_hold", "whisper_payment"} <= set(ids)
    assert len(ids) == len(set(ids))


def test_render_puts_the_disclosure_in_the_cache(tmp_path: Path) -> None:
    runner = CliRunner()
    flow_file = flows_dir() / "payment_reminder.yaml"
    args = ["render", str(flow_file), "--cache-dir", str(tmp_path)]
    first = runner.invoke(prompts, args)
    assert first.exit_code == 0, first.output
    assert "espeak/cmn" in first.output
    assert "rendered" in first.output
    assert "needs name" in first.output  # rendered at call time
    loaded = load_flow(flow_file)
    assert loaded.prompts is not None
    disclosure = loaded.prompts.render("disclosure", {"company": loaded.flow.company})
    pcm = prerendered(disclosure, "zh-CN", TtsCache(tmp_path))
    assert pcm is not None and len(pcm) > 8000
    second = runner.invoke(prompts, args)
    assert second.exit_code == 0, second.output
    assert " rendered " not in second.output
    assert "cached" in second.output


def test_variables_given_on_the_command_line_are_rendered(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        prompts,
        [
            "render",
            str(flows_dir() / "satisfaction_survey.yaml"),
            "--engine",
            "espeak",
            "--cache-dir",
            str(tmp_path),
            "--var",
            "name=Alex",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "needs" not in result.output
    assert "espeak/en-us" in result.output


def copy_flow(tmp_path: Path, disclosure: str | None = None) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "prompts").mkdir()
    flow = tmp_path / "flows" / "payment_reminder.yaml"
    shutil.copy(flows_dir() / "payment_reminder.yaml", flow)
    texts = yaml.safe_load((prompts_dir() / "zh-CN.yaml").read_text(encoding="utf-8"))
    if disclosure is not None:
        texts["disclosure"] = disclosure
    (tmp_path / "prompts" / "zh-CN.yaml").write_text(
        yaml.safe_dump(texts, allow_unicode=True), encoding="utf-8"
    )
    return flow


def test_a_disclosure_that_needs_contact_data_is_refused(tmp_path: Path) -> None:
    flow = copy_flow(tmp_path, disclosure="{name}您好，这里是{company}，本通话将被录音。")
    result = CliRunner().invoke(
        prompts, ["render", str(flow), "--cache-dir", str(tmp_path / "cache")]
    )
    assert result.exit_code == 1
    assert "disclosure 'disclosure' needs name" in result.output


def test_bad_input_is_reported(tmp_path: Path) -> None:
    flow = copy_flow(tmp_path)
    (tmp_path / "prompts" / "zh-CN.yaml").unlink()
    runner = CliRunner()
    no_prompts = runner.invoke(prompts, ["render", str(flow), "--cache-dir", str(tmp_path)])
    assert no_prompts.exit_code == 1
    assert "no prompts for locale zh-CN" in no_prompts.output
    bad_var = runner.invoke(prompts, ["render", str(flow), "--var", "oops"])
    assert bad_var.exit_code == 2
    assert "expected NAME=VALUE" in bad_var.output
    piper_zh = runner.invoke(
        prompts,
        [
            "render",
            str(flows_dir() / "payment_reminder.yaml"),
            "--engine",
            "piper",
            "--cache-dir",
            str(tmp_path),
        ],
    )
    assert piper_zh.exit_code == 1
    assert "English voice only" in piper_zh.output
