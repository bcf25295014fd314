"""The hearing corpus and ``voicebot asr eval``: a few real clips, real engines, real scores.

The generator (``benchmarks/asr_corpus.py``) renders labelled utterances in Piper and espeak-ng
voices over modelled phone lines; the command hears them and scores words and intents.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from click.testing import CliRunner

from tests.paths import ROOT
from voicebot.audio import FRAME_SAMPLES
from voicebot.commands.asr import asr
from voicebot.speech.asr.evaluation import CorpusError, load_manifest, read_wav, tokens


@pytest.fixture(scope="module")
def corpus_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "asr_corpus", ROOT / "benchmarks" / "asr_corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["asr_corpus"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(corpus_tool: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    utterances = tmp_path_factory.mktemp("labels") / "utterances.jsonl"
    records = [
        {"intent": "opt_out", "text": "Please don't call me again."},
        {"intent": "refuse", "text": "No, I'm not interested, thank you."},
        {"intent": "ask_human", "text": "Can I talk to a real person, please?"},
    ]
    utterances.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    out = tmp_path_factory.mktemp("corpus")
    corpus_tool.generate(out, ["en-US"], per_utterance=2, utterances_file=utterances)
    return out


@pytest.mark.integration
def test_the_corpus_has_labels_voices_lines_and_a_heldout_part(corpus: Path) -> None:
    clips = load_manifest(corpus)
    assert len(clips) == 6
    assert {c.intent for c in clips} == {"opt_out", "refuse", "ask_human"}
    assert len({c.voice for c in clips}) == 6  # round robin over the voices
    assert len({c.condition for c in clips}) >= 3
    for clip in clips:
        pcm = read_wav(clip.audio)
        assert len(pcm) > 0.5 * 8000 and np.abs(pcm).max() > 1000


def test_sampling_takes_each_intent_from_both_parts_of_the_intent_corpus(
    corpus_tool: ModuleType,
) -> None:
    from voicebot.speech.corpus import load_corpus

    utterances = corpus_tool.corpus_utterances("en-US")
    assert len(utterances) == len(load_corpus("en-US"))
    chosen = corpus_tool.sample(utterances, 5, seed=13)
    labels = {u.intent for u in utterances}
    assert len(chosen) == 5 * len(labels)
    for label in labels:
        mine = [u for u in chosen if u.intent == label]
        assert len(mine) == 5
        assert sum(u.heldout for u in mine) == 2  # half of five, rounded down
    assert chosen == corpus_tool.sample(utterances, 5, seed=13)  # the same seed, the same set
    assert chosen != corpus_tool.sample(utterances, 5, seed=14)
    order = {u: i for i, u in enumerate(utterances)}
    assert [order[u] for u in chosen] == sorted(order[u] for u in chosen)
    few = [u for u in utterances if u.intent == "deny" and not u.heldout][:3]
    assert corpus_tool.sample(few, 5, seed=13) == few  # fewer than asked: all of them


@pytest.fixture(scope="module")
def sampled(corpus_tool: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sampled")
    corpus_tool.generate(out, ["en-US"], per_utterance=1, per_intent=2)
    return out


@pytest.mark.integration
def test_a_clip_is_held_out_when_its_words_are(sampled: Path) -> None:
    from voicebot.speech.corpus import load_corpus

    heldout_texts = {u.text for u in load_corpus("en-US", ("heldout",))}
    dev_texts = {u.text for u in load_corpus("en-US", ("dev",))}
    clips = load_manifest(sampled)
    labels = {c.intent for c in clips}
    assert labels == {
        "opt_out",
        "refuse",
        "interested",
        "callback_later",
        "ask_human",
        "affirm",
        "deny",
        "none",
    }
    assert len(clips) == 2 * len(labels)
    for clip in clips:
        assert clip.text_split == ("heldout" if clip.text in heldout_texts else "dev")
        assert clip.text in heldout_texts | dev_texts
        if clip.text_split == "heldout":
            assert clip.split == "heldout"
    assert sum(c.text_split == "heldout" for c in clips) == len(labels)
    # Some clips of dev words are held out anyway, by their voice or line.
    assert any(c.text_split == "dev" and c.split == "heldout" for c in clips)
    assert any(c.split == "dev" for c in clips)


@pytest.mark.integration
def test_asr_eval_reports_heldout_words_apart(sampled: Path) -> None:
    result = CliRunner().invoke(
        asr, ["eval", str(sampled), "--engine", "pocketsphinx", "--json", "--limit", "6"]
    )
    assert result.exit_code == 0, result.output
    reports = json.loads(result.output)["reports"]
    parts = {k: v["clips"] for k, v in reports.items() if k.startswith("en-US/text:")}
    assert set(parts) <= {"en-US/text:dev", "en-US/text:heldout"} and parts
    assert sum(parts.values()) == reports["en-US"]["clips"] == 6
    assert reports["en-US/heldout"]["clips"] >= parts.get("en-US/text:heldout", 0)


def test_line_conditions_do_what_they_say(corpus_tool: ModuleType) -> None:
    rng = np.random.default_rng(1)
    tone = (8000 * np.sin(np.arange(8000 * 4) * 2 * np.pi * 440 / 8000)).astype(np.int16)
    lossy = corpus_tool.Condition("loss", loss=0.1, burst=2.0)
    out = corpus_tool.apply_line(tone, lossy, rng)
    silent = np.all(
        out[: len(out) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES) == 0, axis=1
    )
    assert 0.05 < silent.mean() < 0.16  # about a tenth of the 20 ms frames lost
    noisy = corpus_tool.apply_line(tone, corpus_tool.Condition("n", snr_db=5), rng)
    residual = noisy.astype(float) - corpus_tool.apply_line(tone, corpus_tool.Condition("c"), rng)
    snr = 10 * np.log10(np.mean(tone.astype(float) ** 2) / np.mean(residual**2))
    assert 3 < snr < 8


@pytest.mark.integration
def test_asr_eval_scores_whisper_on_the_corpus(corpus: Path) -> None:
    result = CliRunner().invoke(
        asr, ["eval", str(corpus), "--engine", "whisper", "--json", "--details"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    overall = record["reports"]["en-US"]
    assert overall["clips"] == 6
    assert overall["text_intent_accuracy"] == 1.0
    assert overall["intent_accuracy"] >= 4 / 6, record["clips"]
    assert overall["recall"]["opt_out"] == 1.0, record["clips"]
    assert set(record["reports"]) >= {"en-US/dev", "en-US/heldout"}
    assert all(c["engines"] == ["whisper"] for c in record["clips"])
    assert 0 < overall["seconds_mean"] < 30


@pytest.mark.integration
def test_a_chain_asks_the_second_engine_only_when_unsure(corpus: Path) -> None:
    result = CliRunner().invoke(
        asr, ["eval", str(corpus), "--engine", "pocketsphinx>whisper", "--json", "--details"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    for clip in record["clips"]:
        first_heard_something = clip["engines"] == ["pocketsphinx"]
        assert first_heard_something == (len(clip["engines"]) == 1)
        if not first_heard_something:
            assert clip["engines"] == ["pocketsphinx", "whisper"]
    assert record["reports"]["en-US"]["second_pass"] == sum(
        len(c["engines"]) == 2 for c in record["clips"]
    )


@pytest.mark.integration
def test_the_table_has_a_confusion_matrix(corpus: Path) -> None:
    # The default engine is what a call would get: pocketsphinx for English, out of the box.
    result = CliRunner().invoke(asr, ["eval", str(corpus), "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "intent confusion" in result.output and "WER" in result.output
    assert "asr eval (auto)" in result.output


def test_bad_corpora_get_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.jsonl").write_text(
        '{"id": "a", "locale": "en-US", "intent": "refuse", "text": "no", "audio": "a.wav"}\n'
        '{"id": "b", "locale": "en-US", "text": "no", "audio": "a.wav"}\n',
        encoding="utf-8",
    )
    with pytest.raises(CorpusError, match=r"manifest\.jsonl:1: field 'audio': no file"):
        load_manifest(tmp_path)
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    with pytest.raises(CorpusError, match=r"manifest\.jsonl:2: field 'intent': expected a string"):
        load_manifest(tmp_path)
    result = CliRunner().invoke(asr, ["eval", str(tmp_path), "--engine", "nope"])
    assert result.exit_code == 2 and "pocketsphinx>whisper" in result.output
    result = CliRunner().invoke(asr, ["eval", str(tmp_path)])
    assert result.exit_code == 1 and "manifest.jsonl:2" in result.output


def test_chinese_is_scored_by_characters() -> None:
    assert tokens("别再给我打电话了。", "zh-CN") == list("别再给我打电话了")
    assert tokens("Don't call me, AGAIN!", "en-US") == ["dont", "call", "me", "again"]
