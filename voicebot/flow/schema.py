"""The flow language as a JSON Schema, generated from the pydantic models.

Editors (VS Code's YAML extension, JetBrains) read ``flows/flow.schema.json`` through the
``# yaml-language-server: $schema=flow.schema.json`` line of each flow, so designers get
completion and errors while typing. The schema is generated, never hand-edited, so it cannot
drift from :mod:`voicebot.flow.model`; the few rules pydantic cannot express (the bare-word
actions, one key per action, ``end`` excluding ``next``/``listen``) are added here.
"""

from __future__ import annotations

import json
from typing import Any

from voicebot.flow.model import Flow

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:voicebot:schema:flow"
TITLE = "voicebot flow"
DESCRIPTION = (
    "A voicebot conversation flow (flows/*.yaml): purpose, locale, company, the disclosure "
    "said first, global event handlers and states. Generated from voicebot.flow.model by "
    "`voicebot flow schema`; the flow lint (`voicebot flow lint`) checks the safety rules "
    "a schema cannot (disclosure first, opt-out reachable, no dead ends, prompts present)."
)

BARE_ACTIONS = ("opt_out", "hangup", "callback")

FIELD_DOCS: dict[tuple[str, str], str] = {
    ("Flow", "description"): "What the flow is for, in a sentence, for people.",
    ("Flow", "purpose"): "notification, marketing or survey; calling rules differ per purpose.",
    ("Flow", "locale"): "Language of the prompts, e.g. zh-CN or en-US (prompts/<locale>.yaml).",
    ("Flow", "company"): "Who calls; the disclosure names it, prompts use it as {company}.",
    ("Flow", "start"): "The first state; it must say the disclosure before anything else.",
    ("Flow", "states"): "State name -> state.",
    ("State", "description"): "A note for people reading the flow.",
    ("State", "listen"): "Wait for digits or speech after the prompts; map events in `on`.",
    ("Action", "callback"): "Ask the dialer to call again later.",
    ("Action", "handoff"): "Transfer to a human agent; `fallback` when none accepts.",
    ("Handoff", "queue"): "The agent queue to transfer to, e.g. sales.",
}
"""Descriptions for fields the models leave undocumented, keyed by (model, field)."""


def flow_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a flow file."""
    generated = Flow.model_json_schema(mode="validation")
    defs = generated["$defs"]
    for (model, field), text in FIELD_DOCS.items():
        node = generated if model == "Flow" else defs[model]
        node["properties"][field].setdefault("description", text)
    defs["Action"] = _with_bare_words(defs["Action"])
    defs["State"]["allOf"] = _state_exclusions()
    _close_pattern_maps(generated)
    generated.pop("title", None)
    generated.pop("description", None)
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": TITLE,
        "description": DESCRIPTION,
        **generated,
    }


def render() -> str:
    """The schema as committed in ``flows/flow.schema.json``: stable, indented, UTF-8."""
    return json.dumps(flow_schema(), indent=2, ensure_ascii=False) + "\n"


def _with_bare_words(action: dict[str, Any]) -> dict[str, Any]:
    mapping = {key: value for key, value in action.items() if key not in ("title", "description")}
    mapping["minProperties"] = 1
    mapping["maxProperties"] = 1
    return {
        "title": action["title"],
        "description": action["description"],
        "anyOf": [
            {
                "type": "string",
                "enum": list(BARE_ACTIONS),
                "description": "A bare-word action: opt_out, hangup or callback.",
            },
            mapping,
        ],
    }


def _state_exclusions() -> list[dict[str, Any]]:
    return [
        {
            "if": {"required": ["end"]},
            "then": {"not": {"anyOf": [{"required": ["next"]}, {"required": ["listen"]}]}},
            "description": "A state with `end` has no `next` or `listen`.",
        },
        {
            "if": {"required": ["next"]},
            "then": {"not": {"required": ["listen"]}},
            "description": "A state either listens or moves on with `next`, not both.",
        },
    ]


def _close_pattern_maps(node: Any) -> None:
    """Maps keyed by a pattern (states, on, handlers, set) accept no other keys."""
    if isinstance(node, dict):
        if "patternProperties" in node and "properties" not in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_pattern_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_maps(value)
