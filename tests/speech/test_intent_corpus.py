"""The labelled utterances, the learned classifier trained from them, and how they measure.

The held-out part is never used to tune the lexicon or to train: its figures are the ones that
say how the engine does on what callers say, not on what it was built with.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from voicebot.cli import cli
from voicebot.speech.classifier import shipped_model, train
from voicebot.speech.corpus import (
    NONE,
    CorpusError,
    corpus_digest,
    corpus_locales,
    load_corpus,
    parse_corpus,
)
from voicebot.speech.decision import decide, opt_out_cue
from voicebot.speech.intent import INTENTS, lexicon_for, recognize
from voicebot.speech.intent_eval import evaluate

LOCALES = ("en-US", "zh-CN")


def test_every_lexicon_locale_has_a_corpus() -> None:
    assert corpus_locales() == LOCALES


@pytest.mark.parametrize("locale", LOCALES)
def test_corpus_is_large_split_and_covers_every_intent_in_both_parts(locale: str) -> None:
    corpus = load_corpus(locale)
    assert len(corpus) >= 600
    for split in ("dev", "heldout"):
        part = [u for u in corpus if u.split == split]
        assert {u.intent for u in part} == {*INTENTS, NONE}, split
    heldout = [u for u in corpus if u.split == "heldout"]
    assert len(heldout) >= 150
    assert min(sum(u.intent == label for u in heldout) for label in (*INTENTS, NONE)) >= 10


def test_a_malformed_corpus_line_is_named_with_file_line_and_field() -> None:
    text = "# comment\ntext\tintent\tsplit\nno thanks\trefuse\tdev\nstop\topt-out\tdev\nhi\tnone\n"
    with pytest.raises(CorpusError) as caught:
        parse_corpus(text, "xx.tsv", {*INTENTS, NONE})
    message = str(caught.value)
    assert "xx.tsv:4: intent: 'opt-out', expected one of" in message
    assert "xx.tsv:5: expected 3 tab-separated columns, got 2" in message


@pytest.mark.parametrize("locale", LOCALES)
def test_the_shipped_model_is_trained_from_the_current_dev_part(locale: str) -> None:
    """If this fails, run `voicebot intent train` and commit the models."""
    shipped = shipped_model(locale)
    assert shipped is not None
    assert shipped.digest == corpus_digest(locale), "stale model: run `voicebot intent train`"
    fresh = train(locale, INTENTS)
    assert shipped.vocabulary == fresh.vocabulary
    assert np.allclose(shipped.weights, fresh.weights, atol=2e-2)  # shipped as float16


@pytest.mark.parametrize(
    ("text", "locale", "intent"),
    [
        ("not call me again", "en-US", "opt_out"),  # the paraphrase, without "do"
        ("please not call this number again", "en-US", "opt_out"),
        ("以后别给我打了", "zh-CN", "opt_out"),  # between 以后别打了 and 别给我打电话了
        ("你们别再打给我了", "zh-CN", "opt_out"),
        ("don't stop, go ahead", "en-US", "interested"),
        ("why do you keep calling me", "en-US", None),
        ("不是没兴趣", "zh-CN", "interested"),
        ("你们怎么知道我的号码", "zh-CN", None),
    ],
)
def test_paraphrases_the_lexicon_misses_are_read_right(
    text: str, locale: str, intent: str | None
) -> None:
    assert recognize(text, locale).intent == intent


def test_the_classifier_cannot_opt_out_without_an_opt_out_cue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "please never ring this line again"
    match = recognize(text, "en-US")
    assert (match.intent, match.source) == ("opt_out", "model")
    assert decide(text, "en-US").cue is not None
    assert recognize(text, "en-US", allowed=["refuse"]).intent is None
    # The same words, with a lexicon that lists no opt-out cues: the classifier alone is not
    # enough.
    no_cues = replace(lexicon_for("en-US"), opt_out_cues=())
    monkeypatch.setattr("voicebot.speech.decision.lexicon_for", lambda locale: no_cues)
    assert opt_out_cue(no_cues, text) is None
    assert decide(text, "en-US").match.intent != "opt_out"


def test_explain_says_what_the_lexicon_and_the_classifier_found() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["intent", "please never ring this line again", "--explain"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("opt_out")
    assert "lexicon:    no phrase" in result.output
    assert "classifier: opt_out" in result.output
    assert "decided by: classifier opt_out, confirmed by the cue" in result.output
    phrase = json.loads(runner.invoke(cli, ["intent", "我没兴趣", "--explain", "--json"]).output)
    assert phrase["source"] == "lexicon"
    assert phrase["explain"]["lexicon"].startswith("refuse via phrase '没兴趣'")


def test_eval_reports_dev_and_heldout_apart_as_json() -> None:
    result = CliRunner().invoke(cli, ["intent", "eval", "--locale", "zh-CN", "--json"])
    assert result.exit_code == 0, result.output
    reports = json.loads(result.output)["locales"]["zh-CN"]
    assert [r["split"] for r in reports] == ["dev", "heldout"]
    for r in reports:
        assert set(r["per_intent"]) == {*INTENTS, NONE}
        assert sum(sum(row.values()) for row in r["confusion"].values()) == r["utterances"]


def test_eval_text_output_has_a_confusion_matrix(tmp_path: Path) -> None:
    corpus = tmp_path / "mine.tsv"
    corpus.write_text(
        "text\tintent\tsplit\nnot interested\trefuse\theldout\nstop calling me\topt_out\theldout\n"
        "what's the weather\tnone\theldout\n",
        encoding="utf-8",
    )
    args = ["intent", "eval", "--locale", "en-US", "--corpus", str(corpus), "--split", "heldout"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "en-US heldout (combined): 3 utterances, accuracy 100.0 %" in result.output
    assert "opt_out recall 100.0 %" in result.output
    assert "expected \\ got" in result.output


HELDOUT_FLOOR = {"en-US": (0.91, 0.97), "zh-CN": (0.91, 1.0)}
"""Held-out (accuracy, opt_out recall) reached today. Issue 13's targets are 0.97 accuracy and
1.0 opt_out recall per locale: en-US misses one opt-out of 40 and both locales' accuracy is
short. More dev utterances and lexicon phrases move them; until then this guards against
regressions."""


@pytest.mark.parametrize("locale", LOCALES)
def test_heldout_figures(locale: str) -> None:
    """Issue 13's compliance figures on words the engine was never tuned on or trained from:
    false opt_out at most 1 %; accuracy and opt_out recall at least today's floor."""
    (report,) = evaluate(
        load_corpus(locale), lambda t: recognize(t, locale).intent, INTENTS, ["heldout"]
    )
    accuracy, opt_out_recall = HELDOUT_FLOOR[locale]
    assert report.false_opt_out <= 0.01
    assert report.recall("opt_out") >= opt_out_recall
    assert report.accuracy >= accuracy
