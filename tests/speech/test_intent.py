"""Text intents: labelled utterances per locale, negation, precedence, ``allowed`` and the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from voicebot.cli import cli
from voicebot.speech.intent import INTENTS, NO_MATCH, PRECEDENCE, lexicon_for, recognize
from voicebot.speech.lexicon import known_locales, parse_lexicon
from voicebot.yamlsource import SourceErrors

ZH_CASES: list[tuple[str, str | None]] = [
    # the acceptance
    ("我没兴趣", "refuse"),
    ("别再给我打电话了", "opt_out"),
    ("不是没兴趣，你说说看", "interested"),
    # refuse
    ("不需要，谢谢", "refuse"),
    ("我不想听", "refuse"),
    ("不用了", "refuse"),
    ("没有兴趣", "refuse"),
    ("我对这个不感兴趣", "refuse"),
    ("不太感兴趣", "refuse"),
    ("不用了我没兴趣", "refuse"),
    ("没什么兴趣", "refuse"),
    ("不用不用", "refuse"),
    # opt_out
    ("不要再给我打电话", "opt_out"),
    ("别给我打电话了", "opt_out"),
    ("把我号码删了", "opt_out"),
    ("以后别打了行吗", "opt_out"),
    ("不要挂", None),
    ("不要再说了", None),
    ("别再打扰我了", "opt_out"),
    # interested
    ("有兴趣", "interested"),
    ("你说说看", "interested"),
    ("可以了解一下", "interested"),
    ("那你介绍一下吧", "interested"),
    ("多少钱", "interested"),
    # callback_later
    ("我现在忙", "callback_later"),
    ("晚点再打吧", "callback_later"),
    ("明天再说", "callback_later"),
    ("我在开会，晚点再打", "callback_later"),
    ("我现在不忙", None),
    ("我现在在上班", "callback_later"),
    # ask_human
    ("转人工", "ask_human"),
    ("我要人工", "ask_human"),
    ("不用转人工", None),
    ("我要找客服", "ask_human"),
    ("给我人工服务", "ask_human"),
    # affirm
    ("是的", "affirm"),
    ("对", "affirm"),
    ("对对对", "affirm"),
    ("好的", "affirm"),
    ("可以", "affirm"),
    ("是我", "affirm"),
    # deny
    ("不是", "deny"),
    ("不对", "deny"),
    ("你打错了", "deny"),
    ("你找错人了", "deny"),
    ("不是我", "deny"),
    ("不可以", "deny"),
    # noise: punctuation, full width, spaces, fillers, ASR slips
    ("嗯……那个，我 没 兴 趣。", "refuse"),
    ("啊？转　人　工！", "ask_human"),
    ("不要再给我打点话了", "opt_out"),
    ("别在打了", "opt_out"),
    ("没性趣", "refuse"),
    ("转人公", "ask_human"),
    ("嗯", None),
    # negation
    ("不是不需要", "interested"),
    ("也不是不感兴趣", "interested"),
    ("我没说别再打了", "opt_out"),
    # precedence
    ("没兴趣，别再打了", "opt_out"),
    ("不是，我没兴趣", "refuse"),
    ("是的，但我现在忙", "callback_later"),
    ("好的，你说说看", "interested"),
    # off topic and look-alikes
    ("今天天气不错", None),
    ("对不起", None),
    ("喂，你好", None),
    ("你说什么我没听清", None),
    ("我不知道你在说什么", None),
    ("", None),
]

EN_CASES: list[tuple[str, str | None]] = [
    # refuse
    ("not interested", "refuse"),
    ("No thanks.", "refuse"),
    ("I'm not interested in that at all", "refuse"),
    ("no not interested", "refuse"),
    ("I don't think I'm interested", "refuse"),
    ("I'm uninterested", "refuse"),
    ("NOT INTERESTED", "refuse"),
    # opt_out
    ("don't call me again", "opt_out"),
    ("Please remove me from your list", "opt_out"),
    ("stop calling me", "opt_out"),
    ("take me off your list", "opt_out"),
    ("don't hang up", None),
    # interested
    ("tell me more", "interested"),
    ("sounds good", "interested"),
    ("interested", "interested"),
    ("I am interested", "interested"),
    # callback_later
    ("call me later", "callback_later"),
    ("I'm busy right now", "callback_later"),
    ("I'm driving, can you call later?", "callback_later"),
    ("I'm not busy right now", None),
    ("I can't talk right now", "callback_later"),
    ("I don't have time right now", "callback_later"),
    # ask_human
    ("can I speak to a representative", "ask_human"),
    ("I want to talk to a person", "ask_human"),
    ("operator", "ask_human"),
    ("I want a human", "ask_human"),
    # affirm
    ("yes", "affirm"),
    ("Yeah.", "affirm"),
    ("sure", "affirm"),
    ("correct", "affirm"),
    ("uh, yeah, that's me", "affirm"),
    # deny
    ("no", "deny"),
    ("nope", "deny"),
    ("wrong number", "deny"),
    ("no that's not me", "deny"),
    ("you have the wrong number", "deny"),
    # noise and ASR slips
    ("I'm knot interested", "refuse"),
    ("dont call me agin", "opt_out"),
    ("don't call me any more", "opt_out"),
    ("stop call me", "opt_out"),
    ("take me of your list", "opt_out"),
    ("um, uh, tell me more", "interested"),
    ("ｎｏｔ ｉｎｔｅｒｅｓｔｅｄ", "refuse"),
    ("I’m busy right now", "callback_later"),
    ("yea sure", "affirm"),
    # negation
    ("I'm not not interested", "interested"),
    ("it's not that I'm not interested", "interested"),
    ("not at all interested", "refuse"),
    ("I didn't say don't call me again", "opt_out"),
    # precedence
    ("not interested, don't call me again", "opt_out"),
    ("no, I am interested", "interested"),
    ("yes, but I'm not interested", "refuse"),
    ("sure, call me back later", "callback_later"),
    # off topic
    ("what's the weather", None),
    ("who is this", None),
    ("I don't know", None),
    ("I'm not really sure", None),
    ("why do you keep calling me", None),
    ("is this about my order", None),
    ("how did you get my number", None),
    ("nothing", None),
]


@pytest.mark.parametrize(("text", "expected"), ZH_CASES)
def test_zh_cn(text: str, expected: str | None) -> None:
    assert recognize(text, "zh-CN").intent == expected


@pytest.mark.parametrize(("text", "expected"), EN_CASES)
def test_en_us(text: str, expected: str | None) -> None:
    assert recognize(text, "en-US").intent == expected


def test_enough_labelled_utterances_per_locale_and_every_intent_covered() -> None:
    for cases in (ZH_CASES, EN_CASES):
        assert len(cases) >= 40
        assert {label for _, label in cases} == {*INTENTS, None}


def test_match_explains_itself() -> None:
    match = recognize("我没兴趣", "zh-CN")
    assert (match.intent, match.score, match.phrase, match.negated) == (
        "refuse",
        1.0,
        "没兴趣",
        False,
    )
    slip = recognize("I'm knot interested", "en-US")
    assert slip.intent == "refuse" and slip.phrase == "not interested" and 0.8 <= slip.score < 1
    double = recognize("不是没兴趣", "zh-CN")
    assert (double.intent, double.phrase, double.negated) == ("interested", "没兴趣", True)
    assert double.score == pytest.approx(0.9)
    assert recognize("今天天气不错", "zh-CN") == NO_MATCH


def test_allowed_restricts_after_negation_and_precedence() -> None:
    assert recognize("不是，我没兴趣", "zh-CN", allowed=["affirm", "deny"]).intent == "deny"
    assert recognize("不是，我没兴趣", "zh-CN", allowed={"refuse", "deny"}).intent == "refuse"
    # "interested" inside "not interested" is never read as interest, allowed or not.
    assert recognize("not interested", "en-US", allowed=["interested"]).intent is None
    assert recognize("没兴趣，别再打了", "zh-CN", allowed=["refuse"]).intent == "refuse"
    assert recognize("没兴趣", "zh-CN", allowed=[]).intent is None


def test_unknown_allowed_intent_is_an_error() -> None:
    with pytest.raises(ValueError, match="refuze"):
        recognize("没兴趣", "zh-CN", allowed=["refuze"])
    with pytest.raises(ValueError, match="not the string 'refuse'"):
        recognize("没兴趣", "zh-CN", allowed="refuse")


def test_unknown_locale_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"fr-FR.*en-US, zh-CN"):
        recognize("pas intéressé", "fr-FR")
    assert known_locales() == ("en-US", "zh-CN")


def test_precedence_lists_every_intent_once() -> None:
    assert sorted(PRECEDENCE) == sorted(INTENTS)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_every_lexicon_phrase_is_recognized_as_its_own_intent(locale: str) -> None:
    wrong = [
        (p.text, p.intent, recognize(p.text, locale).intent)
        for p in lexicon_for(locale).phrases
        if recognize(p.text, locale).intent != p.intent
    ]
    assert wrong == []


_LEXICON = """\
locale: xx-XX
units: words
threshold: 0.8
intents:
{intents}
"""


def _lexicon_yaml(**phrases: list[str]) -> str:
    body = "\n".join(f"  {name}: {json.dumps(words)}" for name, words in phrases.items())
    return _LEXICON.format(intents=body)


def test_a_lexicon_missing_an_intent_is_refused_with_its_position() -> None:
    text = _lexicon_yaml(refuse=["nope"], opt_out=["stop"])
    with pytest.raises(SourceErrors, match=r"xx\.yaml:4:1: intents: .*no phrases for intent"):
        parse_lexicon(text, "xx.yaml", INTENTS)


def test_a_lexicon_phrase_of_only_fillers_is_refused_with_its_position() -> None:
    text = _lexicon_yaml(**{name: ["word"] for name in INTENTS}).replace(
        "threshold: 0.8", "threshold: 0.8\nfillers: [um]"
    )
    text = text.replace('refuse: ["word"]', 'refuse: ["word", "um"]')
    with pytest.raises(
        SourceErrors, match=r"xx\.yaml:6:\d+: intents\.refuse\[1\]: .*'um' is empty"
    ):
        parse_lexicon(text, "xx.yaml", INTENTS)


def test_a_lexicon_equivalence_group_must_hold_single_units() -> None:
    text = _lexicon_yaml(**{name: ["word"] for name in INTENTS}).replace(
        "threshold: 0.8", "threshold: 0.8\nequivalents: [[ok, okay], [do not, dont]]"
    )
    with pytest.raises(SourceErrors, match=r"xx\.yaml:4:\d+: equivalents\[1\]: .*one word"):
        parse_lexicon(text, "xx.yaml", INTENTS)


def test_a_lexicon_with_an_unknown_field_is_refused() -> None:
    text = _lexicon_yaml(**{name: ["word"] for name in INTENTS}) + "colour: red\n"
    with pytest.raises(SourceErrors, match=r"xx\.yaml:\d+:1: colour: unknown field"):
        parse_lexicon(text, "xx.yaml", INTENTS)


def test_cli_prints_intent_score_and_phrase() -> None:
    result = CliRunner().invoke(cli, ["intent", "我没兴趣"])
    assert result.exit_code == 0, result.output
    assert "refuse" in result.output and "1.00" in result.output and "没兴趣" in result.output


def test_cli_json_guesses_the_locale_from_the_text() -> None:
    runner = CliRunner()
    zh = json.loads(runner.invoke(cli, ["intent", "别再给我打电话了", "--json"]).output)
    assert zh["intent"] == "opt_out" and zh["locale"] == "zh-CN" and zh["score"] == 1.0
    en = json.loads(runner.invoke(cli, ["intent", "--json", "what's the weather"]).output)
    assert en == {
        "intent": None,
        "score": 0.0,
        "phrase": None,
        "negated": False,
        "source": None,
        "locale": "en-US",
    }


def test_cli_locale_and_allow_options() -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["intent", "--locale", "en-US", "--allow", "deny", "no, not interested"]
    )
    assert result.exit_code == 0 and result.output.startswith("deny"), result.output
    bad = runner.invoke(cli, ["intent", "--locale", "fr-FR", "non"])
    assert bad.exit_code == 2 and "en-US" in bad.output and "zh-CN" in bad.output
