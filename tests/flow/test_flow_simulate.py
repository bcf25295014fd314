"""Every path of the example flows, through the text simulator and ``voicebot flow simulate``.

The machine, the runner and the intent recognizer are the real ones; only the caller is
scripted. A coverage test checks that the paths below reach every state of every example.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.paths import FLOWS
from voicebot.cli import cli
from voicebot.flow.events import Dtmf, Hangup, NoInput, Utterance
from voicebot.flow.loader import load_flow
from voicebot.flow.machine import compile_flow
from voicebot.flow.runner import ListenSpec
from voicebot.flow.simulate import (
    ScriptedCaller,
    TextHost,
    TypedCaller,
    fill_contact,
    parse_input,
    result_json,
    simulate,
)
from voicebot.outcomes import Outcome

MARKETING = "marketing_offer.yaml"
PAYMENT = "payment_reminder.yaml"
SURVEY = "satisfaction_survey.yaml"
CONTACTS = {
    MARKETING: {"name": "张先生", "offer": "千兆宽带"},
    PAYMENT: {"name": "张三", "account_tail": "8000", "amount": "1,024.00", "due_date": "6月30日"},
    SURVEY: {"name": "Ann"},
}


@dataclass(frozen=True)
class Path_:
    flow: str
    inputs: tuple[str, ...]
    outcome: Outcome
    states: tuple[str, ...]
    agent: bool = False

    @property
    def id(self) -> str:
        agent = "+agent" if self.agent else ""
        return f"{Path(self.flow).stem}:{'|'.join(self.inputs) or 'nothing'}{agent}"


M_PITCH = ("pitch",)
P_CHECK = ("identity_check",)
S_ASK = ("intro", "ask_rating")

PATHS = [
    # marketing_offer
    Path_(MARKETING, ("dtmf:9",), Outcome.OPTED_OUT, (*M_PITCH, "opt_out")),
    Path_(MARKETING, ("say:别再给我打电话了",), Outcome.OPTED_OUT, (*M_PITCH, "opt_out")),
    Path_(MARKETING, ("dtmf:2",), Outcome.REFUSED, (*M_PITCH, "refused")),
    Path_(MARKETING, ("say:我没兴趣",), Outcome.REFUSED, (*M_PITCH, "refused")),
    Path_(MARKETING, ("say:不是",), Outcome.REFUSED, (*M_PITCH, "refused")),
    Path_(MARKETING, ("say:晚点再打给我",), Outcome.CALLBACK, (*M_PITCH, "schedule_callback")),
    Path_(MARKETING, ("dtmf:1",), Outcome.HANDOFF, (*M_PITCH, "transfer"), agent=True),
    Path_(MARKETING, ("say:帮我转人工",), Outcome.HANDOFF, (*M_PITCH, "transfer"), agent=True),
    Path_(MARKETING, ("say:好的",), Outcome.HANDOFF, (*M_PITCH, "transfer"), agent=True),
    Path_(
        MARKETING,
        ("say:不是没兴趣，你说说看",),
        Outcome.COMPLETED,
        (*M_PITCH, "transfer", "offer_callback", "goodbye"),
    ),
    Path_(
        MARKETING,
        ("dtmf:1", "dtmf:1"),
        Outcome.CALLBACK,
        (*M_PITCH, "transfer", "offer_callback", "schedule_callback"),
    ),
    Path_(
        MARKETING,
        ("say:有兴趣", "say:好的"),
        Outcome.CALLBACK,
        (*M_PITCH, "transfer", "offer_callback", "schedule_callback"),
    ),
    Path_(
        MARKETING,
        ("dtmf:1", "say:不是"),
        Outcome.COMPLETED,
        (*M_PITCH, "transfer", "offer_callback", "goodbye"),
    ),
    Path_(
        MARKETING,
        ("dtmf:1", "say:我没兴趣"),
        Outcome.REFUSED,
        (*M_PITCH, "transfer", "offer_callback", "refused"),
    ),
    Path_(
        MARKETING,
        ("dtmf:1", "dtmf:9"),
        Outcome.OPTED_OUT,
        (*M_PITCH, "transfer", "offer_callback", "opt_out"),
    ),
    Path_(MARKETING, (), Outcome.NO_RESPONSE, (*M_PITCH, "no_response")),
    Path_(MARKETING, ("silence", "silence"), Outcome.NO_RESPONSE, (*M_PITCH, "no_response")),
    Path_(
        MARKETING, ("dtmf:7", "say:今天天气不错"), Outcome.NO_RESPONSE, (*M_PITCH, "no_response")
    ),
    Path_(MARKETING, ("silence", "dtmf:2"), Outcome.REFUSED, (*M_PITCH, "refused")),
    Path_(MARKETING, ("hangup",), Outcome.HUNG_UP, (*M_PITCH, "caller_hung_up")),
    Path_(
        MARKETING,
        ("dtmf:1", "hangup"),
        Outcome.HUNG_UP,
        (*M_PITCH, "transfer", "offer_callback", "caller_hung_up"),
    ),
    # payment_reminder
    Path_(PAYMENT, ("dtmf:1",), Outcome.COMPLETED, (*P_CHECK, "details", "goodbye")),
    Path_(PAYMENT, ("say:是我", "say:好的"), Outcome.COMPLETED, (*P_CHECK, "details", "goodbye")),
    Path_(
        PAYMENT,
        ("dtmf:1", "dtmf:1", "dtmf:5"),
        Outcome.COMPLETED,
        (*P_CHECK, "details", "details", "goodbye"),
    ),
    Path_(
        PAYMENT,
        ("dtmf:1", "dtmf:0"),
        Outcome.COMPLETED,
        (*P_CHECK, "details", "transfer", "no_agent"),
    ),
    Path_(
        PAYMENT,
        ("dtmf:1", "dtmf:0"),
        Outcome.HANDOFF,
        (*P_CHECK, "details", "transfer"),
        agent=True,
    ),
    Path_(PAYMENT, ("say:转人工",), Outcome.COMPLETED, (*P_CHECK, "transfer", "no_agent")),
    Path_(PAYMENT, ("dtmf:2",), Outcome.COMPLETED, (*P_CHECK, "wrong_person")),
    Path_(PAYMENT, ("say:不是",), Outcome.COMPLETED, (*P_CHECK, "wrong_person")),
    Path_(PAYMENT, ("say:我不需要",), Outcome.REFUSED, (*P_CHECK, "refused")),
    Path_(PAYMENT, ("dtmf:9",), Outcome.OPTED_OUT, (*P_CHECK, "opt_out")),
    Path_(PAYMENT, ("dtmf:1", "dtmf:9"), Outcome.OPTED_OUT, (*P_CHECK, "details", "opt_out")),
    Path_(PAYMENT, (), Outcome.NO_RESPONSE, (*P_CHECK, "no_response")),
    Path_(PAYMENT, ("dtmf:3", "dtmf:3"), Outcome.NO_RESPONSE, (*P_CHECK, "no_response")),
    Path_(PAYMENT, ("hangup",), Outcome.HUNG_UP, (*P_CHECK, "caller_hung_up")),
    Path_(PAYMENT, ("dtmf:1", "hangup"), Outcome.HUNG_UP, (*P_CHECK, "details", "caller_hung_up")),
    # satisfaction_survey
    Path_(
        SURVEY,
        ("dtmf:1", "dtmf:1"),
        Outcome.CALLBACK,
        (*S_ASK, "rated_1", "low_score_followup", "schedule_callback"),
    ),
    Path_(
        SURVEY,
        ("dtmf:2", "say:yes"),
        Outcome.CALLBACK,
        (*S_ASK, "rated_2", "low_score_followup", "schedule_callback"),
    ),
    Path_(
        SURVEY,
        ("dtmf:1", "dtmf:2"),
        Outcome.COMPLETED,
        (*S_ASK, "rated_1", "low_score_followup", "thanks"),
    ),
    Path_(
        SURVEY,
        ("dtmf:2", "say:no"),
        Outcome.COMPLETED,
        (*S_ASK, "rated_2", "low_score_followup", "thanks"),
    ),
    Path_(
        SURVEY,
        ("dtmf:2",),
        Outcome.COMPLETED,
        (*S_ASK, "rated_2", "low_score_followup", "thanks"),
    ),
    Path_(SURVEY, ("dtmf:3",), Outcome.COMPLETED, (*S_ASK, "rated_3", "thanks")),
    Path_(SURVEY, ("dtmf:4",), Outcome.COMPLETED, (*S_ASK, "rated_4", "thanks")),
    Path_(SURVEY, ("dtmf:5",), Outcome.COMPLETED, (*S_ASK, "rated_5", "thanks")),
    Path_(
        SURVEY, ("silence", "silence", "dtmf:5"), Outcome.COMPLETED, (*S_ASK, "rated_5", "thanks")
    ),
    Path_(SURVEY, ("say:not interested",), Outcome.REFUSED, (*S_ASK, "refused")),
    Path_(SURVEY, ("say:call me back later",), Outcome.CALLBACK, (*S_ASK, "schedule_callback")),
    Path_(SURVEY, ("dtmf:9",), Outcome.OPTED_OUT, (*S_ASK, "opt_out")),
    Path_(SURVEY, ("say:stop calling me",), Outcome.OPTED_OUT, (*S_ASK, "opt_out")),
    Path_(
        SURVEY,
        ("dtmf:1", "dtmf:9"),
        Outcome.OPTED_OUT,
        (*S_ASK, "rated_1", "low_score_followup", "opt_out"),
    ),
    Path_(SURVEY, (), Outcome.NO_RESPONSE, (*S_ASK, "no_response")),
    Path_(SURVEY, ("dtmf:0", "dtmf:6", "dtmf:7"), Outcome.NO_RESPONSE, (*S_ASK, "no_response")),
    Path_(SURVEY, ("hangup",), Outcome.HUNG_UP, (*S_ASK, "caller_hung_up")),
]


async def run_path(path: Path_, contact: dict[str, str] | None = None) -> tuple[Any, TextHost]:
    loaded = load_flow(FLOWS / path.flow)
    host = TextHost(ScriptedCaller(parse_input(i) for i in path.inputs), agent_available=path.agent)
    result = await simulate(
        loaded, host, contact=CONTACTS[path.flow] if contact is None else contact
    )
    return result, host


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.id)
async def test_path(path: Path_) -> None:
    result, host = await run_path(path)
    assert (result.outcome, result.states) == (path.outcome, path.states)
    assert host.opted_out == (path.outcome is Outcome.OPTED_OUT)
    assert bool(host.callbacks) == (path.outcome is Outcome.CALLBACK)
    assert host.hung_up == (path.outcome not in (Outcome.HANDOFF, Outcome.HUNG_UP))
    if "transfer" in path.states:
        assert host.handoffs
    if path.outcome is not Outcome.HUNG_UP:
        assert result.transcript[-1].who == "bot"  # everything ends with words to the caller


@pytest.mark.parametrize("flow", [MARKETING, PAYMENT, SURVEY])
def test_paths_reach_every_state(flow: str) -> None:
    reached = {state for p in PATHS if p.flow == flow for state in p.states}
    voicemail = load_flow(FLOWS / flow).flow.voicemail
    if voicemail is not None:
        reached.add(voicemail)  # test_machine_hears_the_voicemail_message
    assert reached == set(load_flow(FLOWS / flow).flow.states)


def test_machine_hears_the_voicemail_message() -> None:
    result = CliRunner().invoke(
        cli, ["flow", "simulate", str(FLOWS / SURVEY), "--answered-by", "machine", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["outcome"] == "voicemail"
    assert document["states"] == ["voicemail_message"]


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
async def test_survey_rating_is_kept(rating: int) -> None:
    path = Path_(SURVEY, (f"dtmf:{rating}", "dtmf:2"), Outcome.COMPLETED, ())
    result, _ = await run_path(path)
    assert result.variables["rating"] == rating


async def test_disclosure_is_said_first_with_the_company() -> None:
    for flow in (MARKETING, PAYMENT, SURVEY):
        result, host = await run_path(Path_(flow, ("dtmf:9",), Outcome.OPTED_OUT, ()))
        assert host.said[0] == "disclosure"
        company = load_flow(FLOWS / flow).flow.company
        assert company in result.transcript[0].text


async def test_missing_contact_values_become_visible_placeholders() -> None:
    result, _ = await run_path(Path_(SURVEY, ("dtmf:4",), Outcome.COMPLETED, ()), contact={})
    assert "Hi [name]," in result.transcript[1].text
    spec = compile_flow(load_flow(FLOWS / PAYMENT).flow)
    variables, missing = fill_contact(spec, {"name": "张三"})
    assert missing == ["account_tail", "amount", "due_date"]
    assert variables["amount"] == "[amount]"


def test_parse_input_forms_and_errors() -> None:
    assert parse_input("dtmf:9") == Dtmf("9")
    assert parse_input("dtmf:#") == Dtmf("#")
    assert parse_input("say: 我没兴趣 ") == Utterance("我没兴趣")
    assert parse_input("silence") == NoInput()
    assert parse_input("hangup") == Hangup()
    for bad in ("dtmf:12", "dtmf:x", "say:", "shout:hi", "9"):
        with pytest.raises(ValueError, match="--input"):
            parse_input(bad)


def test_typed_caller_reads_digits_words_silence_hangup_and_eof() -> None:
    lines = iter(["12", "not interested", "", "/hangup"])

    def read(hint: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    caller = TypedCaller(read)
    spec = ListenSpec("ask", 5.0, "12", (), 0)
    got = [caller.answer(spec) for _ in range(7)]
    assert got == [
        Dtmf("1"),
        Dtmf("2"),
        Utterance("not interested"),
        NoInput(),
        Hangup(),
        NoInput(),
        NoInput(),
    ]


# ---- the CLI ---------------------------------------------------------------------------


def invoke(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["flow", "simulate", *args], input=stdin)


def json_of(*args: str) -> dict[str, Any]:
    result = invoke(str(FLOWS / MARKETING), *args, "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_cli_opt_out_digit() -> None:
    document = json_of("--input", "dtmf:9")
    assert document["outcome"] == "opted_out"
    first_bot = next(line["text"] for line in document["transcript"] if line["who"] == "bot")
    assert "星河宽带" in first_bot and "录音" in first_bot
    assert document["states"] == ["pitch", "opt_out"]
    assert set(document) >= {"outcome", "transcript", "states", "variables"}


@pytest.mark.parametrize(
    ("words", "outcome"),
    [("我没兴趣", "refused"), ("别再给我打电话了", "opted_out")],
)
def test_cli_spoken_answers(words: str, outcome: str) -> None:
    assert json_of("--input", f"say:{words}")["outcome"] == outcome


def test_cli_negated_refusal_is_interest() -> None:
    document = json_of("--input", "say:不是没兴趣，你说说看")
    assert document["outcome"] not in ("opted_out", "refused")
    assert document["states"][1] == "transfer"


def test_cli_json_stdout_is_one_document_and_warnings_go_to_stderr() -> None:
    result = invoke(str(FLOWS / MARKETING), "--input", "dtmf:2", "--json")
    assert result.exit_code == 0
    json.loads(result.stdout)  # nothing else on stdout
    assert "warning" in result.stderr and "[name]" in result.stderr
    assert "warning" not in result.stdout


def test_cli_contact_values_and_agent() -> None:
    document = json_of(
        "--contact",
        "name=李女士",
        "--contact",
        "offer=千兆宽带",
        "--input",
        "dtmf:1",
        "--agent",
        "available",
    )
    assert document["outcome"] == "handoff"
    assert "李女士您好" in document["transcript"][1]["text"]
    assert document["variables"]["name"] == "李女士"


def test_cli_text_output() -> None:
    result = invoke(str(FLOWS / SURVEY), "--contact", "name=Ann", "--input", "dtmf:4")
    assert result.exit_code == 0, result.output
    assert "bot" in result.stdout and "Hi Ann" in result.stdout
    assert "ask_rating --dtmf_4--> rated_4" in result.stdout
    assert "outcome: completed" in result.stdout


def test_cli_interactive_reads_lines_until_eof() -> None:
    result = invoke(str(FLOWS / SURVEY), "--contact", "name=Ann", "--json", stdin="\n2\nyes\n")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["outcome"] == "callback"
    assert document["variables"]["rating"] == 2
    assert "Hi Ann" in result.stderr  # the conversation is shown on stderr beside the JSON


def test_cli_interactive_eof_is_silence() -> None:
    result = invoke(str(FLOWS / SURVEY), "--contact", "name=Ann", stdin="")
    assert result.exit_code == 0, result.output
    assert "outcome: no_response" in result.stdout


def test_cli_bad_input_is_a_usage_error() -> None:
    result = invoke(str(FLOWS / MARKETING), "--input", "press:9")
    assert result.exit_code == 2
    assert "expected dtmf:<digit>, say:<words>, silence or hangup" in result.output


def test_cli_bad_flow_prints_source_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("purpose: marketing\nlocale: zh-CN\ncompany: X\nstart: nowhere\nstates: {}\n")
    result = invoke(str(bad))
    assert result.exit_code == 2
    assert f"{bad}:4:" in result.stderr and "nowhere" in result.stderr
    missing = invoke(str(tmp_path / "missing.yaml"))
    assert missing.exit_code == 2 and "cannot read file" in missing.stderr


async def test_result_json_shape() -> None:
    result, _ = await run_path(Path_(SURVEY, ("dtmf:5",), Outcome.COMPLETED, ()))
    document = json.loads(json.dumps(result_json(result)))
    assert document["outcome"] == "completed"
    assert document["transcript"][-2] == {"who": "caller", "text": "[dtmf 5]"}
    assert document["states"] == ["intro", "ask_rating", "rated_5", "thanks"]
    assert document["variables"]["rating"] == 5
