"""FlowRunner's conversation rules, through a host that scripts barge-ins and answers.

The intent recognizer is the real one; the host below is the test double of the I/O only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.paths import FLOWS
from voicebot.flow.events import (
    ActionRun,
    CallerEvent,
    CallerEventHeard,
    Dtmf,
    Hangup,
    IntentRecognized,
    NoInput,
    OutcomeReached,
    PromptEnded,
    PromptInterrupted,
    PromptStarted,
    RunEvent,
    StateEntered,
    TranscriptLine,
    TransitionTaken,
    Utterance,
)
from voicebot.flow.loader import LoadedFlow, load_flow
from voicebot.flow.machine import compile_flow
from voicebot.flow.model import Flow, Handoff
from voicebot.flow.prompts import PromptCatalog
from voicebot.flow.runner import BargeIn, FlowResult, FlowRunner, HandoffContext, ListenSpec
from voicebot.outcomes import Outcome

MARKETING = {"name": "张先生", "offer": "千兆宽带"}


@dataclass
class ScriptHost:
    """Says nothing aloud: logs every call, interrupts the prompts named in ``barge``, and
    answers listens from ``answers`` (silence once they run out)."""

    answers: deque[CallerEvent] = field(default_factory=deque)
    barge: dict[str, CallerEvent] = field(default_factory=dict)
    agent: bool = False
    log: list[tuple[Any, ...]] = field(default_factory=list)

    async def say(self, prompt_id: str, text: str, *, barge_in: BargeIn) -> CallerEvent | None:
        self.log.append(("say", prompt_id, barge_in))
        return self.barge.pop(prompt_id, None)

    async def listen(self, spec: ListenSpec) -> CallerEvent:
        self.log.append(("listen", spec))
        return self.answers.popleft() if self.answers else NoInput()

    async def opt_out(self) -> None:
        self.log.append(("opt_out",))

    async def handoff(self, handoff: Handoff, context: HandoffContext) -> bool:
        self.log.append(("handoff", handoff.queue, context))
        return self.agent

    async def callback(self, when: str | None) -> None:
        self.log.append(("callback", when))

    async def hangup(self) -> None:
        self.log.append(("hangup",))

    def said(self) -> list[str]:
        return [entry[1] for entry in self.log if entry[0] == "say"]

    def calls(self, kind: str) -> list[tuple[Any, ...]]:
        return [entry for entry in self.log if entry[0] == kind]


def example(name: str) -> LoadedFlow:
    return load_flow(FLOWS / name)


async def run(
    loaded: LoadedFlow | tuple[Flow, PromptCatalog],
    host: ScriptHost,
    variables: Mapping[str, object] | None = None,
    **options: Any,
) -> tuple[FlowResult, list[RunEvent]]:
    if isinstance(loaded, LoadedFlow):
        assert loaded.prompts is not None
        flow, prompts = loaded.flow, loaded.prompts
    else:
        flow, prompts = loaded
    events: list[RunEvent] = []
    runner = FlowRunner(
        compile_flow(flow),
        prompts,
        host,
        variables=variables,
        on_event=events.append,
        **options,
    )
    return await runner.run(), events


def answers(*events: CallerEvent) -> deque[CallerEvent]:
    return deque(events)


def inline(
    states: dict[str, Any], prompts: Iterable[str], **extra: Any
) -> tuple[Flow, PromptCatalog]:
    flow = Flow.model_validate(
        {
            "purpose": "survey",
            "locale": "en-US",
            "company": "Northwind Telecom",
            "start": next(iter(states)),
            "handlers": {"dtmf.9": "stop", "intent.opt_out": "stop", "hangup": "gone"},
            "states": {
                **states,
                "stop": {"do": ["opt_out"], "say": ["bye"], "end": "opted_out"},
                "gone": {"end": "hung_up"},
            },
            **extra,
        }
    )
    texts = {pid: f"<{pid} for {{company}}>" for pid in [*prompts, "bye", "disclosure"]}
    return flow, PromptCatalog(locale="en-US", texts=texts)


# ---- opt-out ---------------------------------------------------------------------------


async def test_nine_during_the_disclosure_opts_out_before_anything_else_is_said() -> None:
    host = ScriptHost(barge={"disclosure": Dtmf("9")})
    result, events = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.outcome is Outcome.OPTED_OUT
    assert result.states == ("pitch", "opt_out")
    assert host.log[0] == ("say", "disclosure", BargeIn.OPT_OUT_ONLY)
    kinds = [entry[0] for entry in host.log]
    assert kinds == ["say", "opt_out", "say", "hangup"]  # the pitch is never said
    assert host.said() == ["disclosure", "opt_out_confirm"]
    assert PromptInterrupted("pitch", "disclosure", Dtmf("9")) in events
    assert TransitionTaken("dtmf_9", "pitch", "opt_out") in events


async def test_normal_prompts_may_be_interrupted_by_anything() -> None:
    host = ScriptHost(answers=answers(Dtmf("2")))
    await run(example("marketing_offer.yaml"), host, MARKETING)
    modes = {entry[1]: entry[2] for entry in host.calls("say")}
    assert modes == {
        "disclosure": BargeIn.OPT_OUT_ONLY,
        "marketing_offer_pitch": BargeIn.ANY,
        "goodbye_refused": BargeIn.ANY,
    }


async def test_nine_during_a_goodbye_still_opts_out() -> None:
    host = ScriptHost(answers=answers(Dtmf("2")), barge={"goodbye_refused": Dtmf("9")})
    result, _ = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.outcome is Outcome.OPTED_OUT
    assert result.states == ("pitch", "refused", "opt_out")
    assert host.calls("opt_out")


async def test_spoken_opt_out_during_a_state_that_does_not_listen() -> None:
    host = ScriptHost(barge={"survey_intro": Utterance("please stop calling me")})
    result, events = await run(example("satisfaction_survey.yaml"), host, {"name": "Ann"})
    assert result.outcome is Outcome.OPTED_OUT
    assert result.states == ("intro", "opt_out")
    recognized = [e for e in events if isinstance(e, IntentRecognized)]
    assert recognized[0].intent == "opt_out"
    assert recognized[0].allowed == ("opt_out",)  # all a state that does not listen can hear


async def test_other_words_during_a_state_that_does_not_listen_are_ignored() -> None:
    host = ScriptHost(barge={"survey_intro": Utterance("yes hello")}, answers=answers(Dtmf("4")))
    result, _ = await run(example("satisfaction_survey.yaml"), host, {"name": "Ann"})
    assert result.outcome is Outcome.COMPLETED
    assert result.variables["rating"] == 4
    assert host.said()[:3] == ["disclosure", "survey_intro", "survey_question"]


async def test_nine_inside_the_opt_out_state_is_internal() -> None:
    host = ScriptHost(barge={"disclosure": Dtmf("9"), "opt_out_confirm": Dtmf("9")})
    result, events = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.outcome is Outcome.OPTED_OUT
    assert len(host.calls("opt_out")) == 1
    assert TransitionTaken("dtmf_9", "opt_out", None) in events


async def test_nine_in_a_flow_without_an_opt_out_state_still_opts_out() -> None:
    flow = Flow.model_validate(
        {
            "purpose": "survey",
            "locale": "en-US",
            "company": "Northwind Telecom",
            "start": "ask",
            "states": {
                "ask": {"say": ["q"], "listen": {"dtmf": "1"}, "on": {"dtmf.1": "done"}},
                "done": {"end": "completed"},
            },
        }
    )
    host = ScriptHost(answers=answers(Dtmf("9")))
    result, _ = await run((flow, PromptCatalog("en-US", {"q": "Press 1."})), host)
    assert result.outcome is Outcome.OPTED_OUT
    assert host.calls("opt_out")


# ---- barge-in and listening ------------------------------------------------------------


async def test_barge_in_during_a_listening_state_counts_as_its_input() -> None:
    host = ScriptHost(barge={"marketing_offer_pitch": Utterance("我没兴趣")})
    result, events = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.outcome is Outcome.REFUSED
    assert not host.calls("listen")
    heard = [e for e in events if isinstance(e, CallerEventHeard)]
    assert heard == [CallerEventHeard("pitch", Utterance("我没兴趣", "refuse", 1.0))]


async def test_barge_in_stops_the_remaining_prompts() -> None:
    flow = inline(
        {
            "ask": {
                "say": ["one", "two", "three"],
                "listen": {"dtmf": "1"},
                "on": {"dtmf.1": "done"},
            },
            "done": {"say": ["done"], "end": "completed"},
        },
        ["one", "two", "three", "done"],
    )
    host = ScriptHost(barge={"two": Dtmf("1")})
    result, events = await run(flow, host)
    assert result.outcome is Outcome.COMPLETED
    assert host.said() == ["one", "two", "done"]
    started = [e.prompt_id for e in events if isinstance(e, PromptStarted)]
    ended = [e.prompt_id for e in events if isinstance(e, PromptEnded)]
    assert started == ["one", "two", "done"]
    assert ended == ["one", "done"]


async def test_silence_reprompts_then_fires_no_input() -> None:
    host = ScriptHost()
    result, _ = await run(example("satisfaction_survey.yaml"), host, {"name": "Ann"})
    assert result.outcome is Outcome.NO_RESPONSE
    assert host.said() == [
        "disclosure",
        "survey_intro",
        "survey_question",
        "survey_reprompt",
        "survey_reprompt",
        "goodbye_no_response",
    ]
    specs = [entry[1] for entry in host.calls("listen")]
    assert [s.attempt for s in specs] == [0, 1, 2]
    assert specs[0].timeout == 6
    assert specs[0].dtmf == "123459"
    assert specs[0].intents == ("callback_later", "opt_out", "refuse")


async def test_unmatched_digit_and_words_are_no_match() -> None:
    host = ScriptHost(answers=answers(Dtmf("7"), Utterance("今天天气不错")))
    result, events = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.outcome is Outcome.NO_RESPONSE
    assert TransitionTaken("no_match", "pitch", "no_response") in events
    assert host.said().count("marketing_offer_reprompt") == 1
    recognized = [e for e in events if isinstance(e, IntentRecognized)]
    assert recognized[0].intent is None and recognized[0].score == 0.0


async def test_reprompt_defaults_to_the_states_own_prompts() -> None:
    flow = inline(
        {
            "ask": {
                "say": ["q"],
                "listen": {"dtmf": "1", "retries": 1},
                "on": {"dtmf.1": "done", "no_input": "done"},
            },
            "done": {"end": "completed"},
        },
        ["q"],
    )
    host = ScriptHost()
    await run(flow, host)
    assert host.said() == ["q", "q"]
    assert host.calls("listen")[0][1].timeout == 5.0  # the default


async def test_barge_in_during_a_reprompt_counts_as_input() -> None:
    host = ScriptHost(answers=answers(NoInput()), barge={"marketing_offer_reprompt": Dtmf("2")})
    result, _ = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.outcome is Outcome.REFUSED
    assert len(host.calls("listen")) == 1


async def test_intents_are_restricted_to_what_the_state_can_hear() -> None:
    # "转人工" (ask_human) is handled globally in the marketing flow, but the survey has no
    # such handler: there it is just words the state cannot use.
    host = ScriptHost(answers=answers(Utterance("帮我转人工")))
    result, events = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.states[:2] == ("pitch", "transfer")
    host = ScriptHost(answers=answers(Utterance("let me talk to a human")))
    result, events = await run(example("satisfaction_survey.yaml"), host, {"name": "Ann"})
    recognized = [e for e in events if isinstance(e, IntentRecognized)]
    assert "ask_human" not in recognized[0].allowed
    assert recognized[0].intent is None


async def test_words_the_host_has_read_keep_their_reading_and_are_not_read_again() -> None:
    # The call reads words said over the disclosure for an opt-out; the runner must not
    # classify them a second time (and must honour what the host heard).
    read: list[str] = []

    def reader(text: str, locale: str, allowed: Any) -> Any:
        read.append(text)
        from voicebot.speech.intent import recognize

        return recognize(text, locale, allowed)

    survey = example("satisfaction_survey.yaml")
    host = ScriptHost(answers=answers(Utterance("stop calling", intent="opt_out", score=0.9)))
    result, events = await run(survey, host, {"name": "Ann"}, recognizer=reader)
    assert read == []
    assert result.outcome is Outcome.OPTED_OUT
    recognized = [e for e in events if isinstance(e, IntentRecognized)]
    assert (recognized[0].intent, recognized[0].score) == ("opt_out", 0.9)
    # A reading the state cannot hear is no intent here, still without a second reading.
    host = ScriptHost(answers=answers(Utterance("yes", intent="confirm", score=0.9)))
    result, events = await run(survey, host, {"name": "Ann"}, recognizer=reader)
    assert read == []
    recognized = [e for e in events if isinstance(e, IntentRecognized)]
    assert recognized[0].intent is None


# ---- hangup ----------------------------------------------------------------------------


async def test_hangup_while_listening_goes_to_the_handler() -> None:
    host = ScriptHost(answers=answers(Hangup()))
    result, _ = await run(
        example("payment_reminder.yaml"),
        host,
        {"name": "张三", "account_tail": "8000", "amount": "1,024.00", "due_date": "6月30日"},
    )
    assert result.outcome is Outcome.HUNG_UP
    assert result.states == ("identity_check", "caller_hung_up")
    assert not host.calls("hangup")  # the caller is gone already
    assert result.transcript[-1] == TranscriptLine("caller", "[hangup]")


async def test_hangup_during_a_prompt_says_nothing_more() -> None:
    host = ScriptHost(barge={"disclosure": Hangup()})
    result, _ = await run(example("satisfaction_survey.yaml"), host, {"name": "Ann"})
    assert result.outcome is Outcome.HUNG_UP
    assert result.states == ("intro", "caller_hung_up")
    assert host.said() == ["disclosure"]


async def test_hangup_during_the_last_prompt_keeps_the_outcome() -> None:
    host = ScriptHost(answers=answers(Dtmf("2")), barge={"goodbye_refused": Hangup()})
    result, _ = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.outcome is Outcome.REFUSED
    assert result.reason is not None and "hung up" in result.reason


async def test_hangup_without_handler_ends_hung_up() -> None:
    flow = Flow.model_validate(
        {
            "purpose": "survey",
            "locale": "en-US",
            "company": "Northwind Telecom",
            "start": "ask",
            "handlers": {"dtmf.9": "stop"},
            "states": {
                "ask": {"say": ["q"], "listen": {"dtmf": "1"}, "on": {"dtmf.1": "stop"}},
                "stop": {"do": ["opt_out"], "end": "opted_out"},
            },
        }
    )
    host = ScriptHost(answers=answers(Hangup()))
    result, _ = await run((flow, PromptCatalog("en-US", {"q": "Press 1."})), host)
    assert result.outcome is Outcome.HUNG_UP


# ---- actions ---------------------------------------------------------------------------


async def test_handoff_accepted_ends_handoff_with_context() -> None:
    host = ScriptHost(answers=answers(Dtmf("1")), agent=True)
    result, events = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.outcome is Outcome.HANDOFF
    [(_, queue, context)] = host.calls("handoff")
    assert queue == "sales"
    assert context.whisper == "客户对千兆宽带有兴趣，来自营销外呼。"
    assert context.hold == "好的，正在为您转接专属顾问，请稍候。"
    assert context.transcript[-2:] == (
        TranscriptLine("caller", "[dtmf 1]"),
        TranscriptLine("bot", context.hold),
    )
    assert [e[0] if e[0] != "say" else e[1] for e in host.log][-2:] == ["transfer_hold", "handoff"]
    assert not host.calls("hangup")  # the agent has the call now
    assert ActionRun("transfer", "handoff", "queue sales: an agent accepted") in events


async def test_nine_during_the_hold_prompt_opts_out_instead_of_transferring() -> None:
    host = ScriptHost(answers=answers(Dtmf("1")), barge={"transfer_hold": Dtmf("9")}, agent=True)
    result, _ = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.outcome is Outcome.OPTED_OUT
    assert not host.calls("handoff")


async def test_handoff_not_accepted_goes_to_the_fallback() -> None:
    host = ScriptHost(answers=answers(Dtmf("1"), Utterance("好的")))
    result, _ = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.outcome is Outcome.CALLBACK
    assert result.states == ("pitch", "transfer", "offer_callback", "schedule_callback")
    assert host.calls("callback") == [("callback", None)]


async def test_callback_when_is_rendered_from_variables() -> None:
    flow = inline(
        {"cb": {"do": [{"callback": {"when": "{slot}"}}], "end": "callback"}},
        [],
    )
    host = ScriptHost()
    result, _ = await run(flow, host, {"slot": "tomorrow 10:00"})
    assert host.calls("callback") == [("callback", "tomorrow 10:00")]
    assert result.outcome is Outcome.CALLBACK


async def test_set_and_company_variables() -> None:
    host = ScriptHost(answers=answers(Dtmf("5")))
    result, _ = await run(example("satisfaction_survey.yaml"), host, {"name": "Ann"})
    assert result.variables == {"name": "Ann", "company": "Northwind Telecom", "rating": 5}
    assert result.transcript[0].text.startswith(
        "Hello, this is an automated call from Northwind Telecom."
    )


async def test_hangup_action_ends_the_call() -> None:
    flow = inline({"bye": {"say": ["x"], "do": ["hangup"]}}, ["x"])
    host = ScriptHost()
    result, _ = await run(flow, host)
    assert result.outcome is Outcome.COMPLETED
    assert host.said() == []  # actions run before prompts; hangup ends at once
    assert host.calls("hangup")


# ---- guards ----------------------------------------------------------------------------


async def test_endless_loop_fails_with_a_reason() -> None:
    flow = inline({"a": {"say": ["x"], "next": "b"}, "b": {"next": "a"}}, ["x"])
    host = ScriptHost()
    result, events = await run(flow, host, max_transitions=10)
    assert result.outcome is Outcome.FAILED
    assert result.reason is not None and "more than 10 transitions" in result.reason
    assert len([e for e in events if isinstance(e, TransitionTaken)]) == 10
    assert isinstance(events[-1], OutcomeReached)


async def test_dead_end_fails_with_a_reason() -> None:
    flow = inline({"a": {"say": ["x"]}}, ["x"])
    result, _ = await run(flow, ScriptHost())
    assert result.outcome is Outcome.FAILED
    assert result.reason == "state 'a' has no end, next or listen: a dead end"


def test_missing_prompts_and_variables_are_found_before_the_call() -> None:
    loaded = example("marketing_offer.yaml")
    assert loaded.prompts is not None
    spec = compile_flow(loaded.flow)
    with pytest.raises(ValueError, match="needs name, offer"):
        FlowRunner(spec, loaded.prompts, ScriptHost())
    thin = PromptCatalog("zh-CN", {"disclosure": "x"})
    with pytest.raises(ValueError, match="'marketing_offer_pitch' is not in the zh-CN prompts"):
        FlowRunner(spec, thin, ScriptHost(), variables=MARKETING)


async def test_a_runner_runs_once() -> None:
    loaded = example("satisfaction_survey.yaml")
    assert loaded.prompts is not None
    runner = FlowRunner(
        compile_flow(loaded.flow), loaded.prompts, ScriptHost(), variables={"name": "Ann"}
    )
    await runner.run()
    with pytest.raises(RuntimeError, match="runs one call"):
        await runner.run()


async def test_event_stream_of_a_short_call() -> None:
    host = ScriptHost(answers=answers(Dtmf("2")))
    result, events = await run(example("marketing_offer.yaml"), host, MARKETING)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "StateEntered",
        "PromptStarted",
        "PromptEnded",
        "PromptStarted",
        "PromptEnded",
        "CallerEventHeard",
        "TransitionTaken",
        "StateEntered",
        "PromptStarted",
        "PromptEnded",
        "OutcomeReached",
    ]
    assert events[0] == StateEntered("pitch")
    assert events[-1] == OutcomeReached(Outcome.REFUSED, "refused", None)
    assert [line.who for line in result.transcript] == ["bot", "bot", "caller", "bot"]


async def test_only_nine_or_a_hangup_may_cut_the_disclosure() -> None:
    # A host that lets other input cut the disclosure breaks the contract: the runner does not
    # count it as the state's answer, and goes on with the pitch.
    host = ScriptHost(barge={"disclosure": Dtmf("2")}, answers=answers(Dtmf("1")), agent=True)
    result, events = await run(example("marketing_offer.yaml"), host, MARKETING)
    assert result.outcome is Outcome.HANDOFF
    assert host.said()[:2] == ["disclosure", "marketing_offer_pitch"]
    assert CallerEventHeard("pitch", Dtmf("2")) in events


async def test_state_entered_says_when_a_state_is_sensitive() -> None:
    flow = inline(
        {
            "card": {
                "say": ["q"],
                "sensitive": True,
                "listen": {"dtmf": "1"},
                "on": {"dtmf.1": "done"},
            },
            "done": {"end": "completed"},
        },
        ["q"],
    )
    _, events = await run(flow, ScriptHost(answers=answers(Dtmf("1"))))
    entered = [e for e in events if isinstance(e, StateEntered)]
    assert entered == [StateEntered("card", True), StateEntered("done", False)]
