"""The compiled transition table and the per-call machines built from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.paths import FLOWS
from voicebot.flow.loader import load_flow
from voicebot.flow.machine import (
    CompiledTransition,
    FlowSpec,
    UnknownTrigger,
    compile_flow,
    dtmf_trigger,
    trigger_of,
)
from voicebot.flow.model import Flow

EXAMPLES = sorted(FLOWS.glob("*.yaml"))


def spec_of(name: str) -> FlowSpec:
    return compile_flow(load_flow(FLOWS / name).flow)


def flow(states: dict[str, Any], handlers: dict[str, str] | None = None, **extra: Any) -> Flow:
    return Flow.model_validate(
        {
            "purpose": "survey",
            "locale": "en-US",
            "company": "Northwind Telecom",
            "start": next(iter(states)),
            "handlers": handlers or {},
            "states": states,
            **extra,
        }
    )


def test_trigger_names() -> None:
    assert [dtmf_trigger(d) for d in "09*#"] == ["dtmf_0", "dtmf_9", "dtmf_star", "dtmf_hash"]
    assert trigger_of("dtmf.#") == "dtmf_hash"
    assert trigger_of("intent.callback_later") == "intent_callback_later"
    assert [trigger_of(k) for k in ("no_input", "no_match", "hangup")] == [
        "no_input",
        "no_match",
        "hangup",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_opt_out_digit_works_from_every_state(path: Path) -> None:
    spec = compile_flow(load_flow(path).flow)
    assert spec.opt_out_target == "opt_out"
    for state in spec.states:
        expected = None if state == "opt_out" else "opt_out"
        assert spec.target(state, "dtmf_9") == expected, state
        assert spec.target(state, "intent_opt_out") == expected, state


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_hangup_routes_from_every_state_that_does_not_end(path: Path) -> None:
    spec = compile_flow(load_flow(path).flow)
    for state in spec.states:
        if spec.flow.states[state].is_terminal:
            assert not spec.can(state, "hangup"), state
        else:
            assert spec.target(state, "hangup") == "caller_hung_up", state


def test_marketing_table_merges_on_over_handlers() -> None:
    spec = spec_of("marketing_offer.yaml")
    pitch = spec.routes["pitch"]
    assert pitch["dtmf_1"] == "transfer"
    assert pitch["dtmf_2"] == "refused"
    assert pitch["intent_refuse"] == "refused"
    assert pitch["intent_ask_human"] == "transfer"  # global handler
    assert pitch["no_input"] == "no_response"
    assert spec.target("transfer", "fallback") == "offer_callback"
    assert not spec.can("transfer", "intent_ask_human")  # global handlers: listening states
    assert CompiledTransition("dtmf_1", "pitch", "transfer") in spec.transitions
    assert spec.intents_heard("pitch") == {
        "interested",
        "affirm",
        "refuse",
        "deny",
        "callback_later",
        "opt_out",
        "ask_human",
    }
    assert spec.intents_heard("refused") == {"opt_out"}


def test_survey_next_routes() -> None:
    spec = spec_of("satisfaction_survey.yaml")
    assert spec.target("intro", "next") == "ask_rating"
    assert [spec.target("ask_rating", f"dtmf_{d}") for d in "12345"] == [
        f"rated_{d}" for d in "12345"
    ]
    assert spec.target("rated_1", "next") == "low_score_followup"


def test_unknown_trigger_is_refused() -> None:
    spec = spec_of("satisfaction_survey.yaml")
    with pytest.raises(UnknownTrigger, match="'intro' has no route for 'dtmf_1'"):
        spec.target("intro", "dtmf_1")


async def test_machines_are_independent_and_fire_through_the_table() -> None:
    spec = spec_of("marketing_offer.yaml")
    first, second = spec.new_machine(), spec.new_machine()
    assert first.state == second.state == "pitch"
    assert await first.fire("dtmf_1") == "transfer"
    assert await first.fire("fallback") == "offer_callback"
    assert second.state == "pitch"
    assert await second.fire("intent_refuse") == "refused"
    assert await second.fire("dtmf_9") == "opt_out"
    assert await second.fire("dtmf_9") == "opt_out"  # internal: valid, stays
    assert first.state == "offer_callback"
    assert first.model is not second.model


async def test_fire_without_route_raises_and_keeps_state() -> None:
    machine = spec_of("marketing_offer.yaml").new_machine()
    with pytest.raises(UnknownTrigger):
        await machine.fire("next")
    assert machine.state == "pitch"
    assert not machine.can("dtmf_5")
    assert machine.can("dtmf_9")


def test_model_gets_no_per_trigger_or_per_state_methods() -> None:
    machine = spec_of("marketing_offer.yaml").new_machine()
    # Only the library's two generic entry points; no dtmf_1(), next(), is_pitch(), ...
    assert set(vars(machine.model)) == {"state", "trigger", "may_trigger"}


def test_digit_nine_beats_a_states_own_route() -> None:
    spec = compile_flow(
        flow(
            {
                "ask": {"say": ["q"], "listen": {"dtmf": "19"}, "on": {"dtmf.9": "other"}},
                "other": {"end": "completed"},
                "stop": {"do": ["opt_out"], "end": "opted_out"},
            },
            handlers={"dtmf.9": "stop"},
        )
    )
    assert spec.target("ask", "dtmf_9") == "stop"


def test_opt_out_target_without_handler_is_the_opt_out_state() -> None:
    spec = compile_flow(
        flow(
            {
                "ask": {"say": ["q"], "listen": {"dtmf": "1"}, "on": {"dtmf.1": "bye"}},
                "bye": {"end": "completed"},
                "leave": {"do": ["opt_out"], "end": "opted_out"},
            }
        )
    )
    assert spec.opt_out_target == "leave"
    assert spec.target("bye", "dtmf_9") == "leave"
    assert not spec.can("ask", "intent_opt_out")  # no handler says which words opt out


def test_flow_without_any_opt_out_compiles_without_the_route() -> None:
    spec = compile_flow(flow({"only": {"end": "completed"}}))
    assert spec.opt_out_target is None
    assert not spec.can("only", "dtmf_9")


def test_star_and_hash_triggers() -> None:
    spec = compile_flow(
        flow(
            {
                "ask": {
                    "say": ["q"],
                    "listen": {"dtmf": "*#"},
                    "on": {"dtmf.*": "a", "dtmf.#": "b"},
                },
                "a": {"end": "completed"},
                "b": {"end": "refused"},
            }
        )
    )
    assert spec.target("ask", "dtmf_star") == "a"
    assert spec.target("ask", "dtmf_hash") == "b"


def test_bench_flow_prints_figures() -> None:
    from click.testing import CliRunner

    from voicebot.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "bench",
            "flow",
            str(FLOWS / "satisfaction_survey.yaml"),
            "--count",
            "20",
            "--runs",
            "2",
            "--input",
            "dtmf:3",
        ],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert "create 20 machines (shared spec)" in result.output
    assert "memory per machine" in result.output
    assert "2 simulated calls -> completed" in result.output
