"""JSON Schemas for campaign files and policy overrides, generated from their models.

Why: a business user writes these files by hand; editors (VS Code's YAML extension, JetBrains)
complete and check them through the ``# yaml-language-server: $schema=...`` first line of each
example, like flows. Generated, never hand-edited, so they cannot drift from
:class:`~voicebot.campaign.config.Campaign` and :class:`~voicebot.compliance.policy.Policy`;
``tests/campaign/test_campaign_schema.py`` fails when a committed file is out of date
(``voicebot campaign schema`` rewrites them).
"""

from __future__ import annotations

import json
from typing import Any

from voicebot.campaign.config import Campaign
from voicebot.compliance.policy import Policy

DRAFT = "https://json-schema.org/draft/2020-12/schema"
CAMPAIGN_SCHEMA_FILE = "campaign.schema.json"
POLICY_SCHEMA_FILE = "policy.schema.json"


def campaign_schema() -> dict[str, Any]:
    """The schema of a campaign file (``voicebot campaign run FILE``)."""
    generated = Campaign.model_json_schema(mode="validation")
    generated.pop("title", None)
    generated.pop("description", None)
    return {
        "$schema": DRAFT,
        "$id": "urn:voicebot:schema:campaign",
        "title": "voicebot campaign",
        "description": (
            "A campaign: a flow run over a contacts CSV, with pacing, retries and callbacks. "
            "Paths are relative to the campaign file. Guide: docs/campaigns.md."
        ),
        **generated,
    }


def policy_schema() -> dict[str, Any]:
    """The schema of a policy override: any part of the defaults, nothing required."""
    generated = Policy.model_json_schema(mode="validation")
    generated.pop("title", None)
    generated.pop("description", None)
    _drop_required(generated)
    return {
        "$schema": DRAFT,
        "$id": "urn:voicebot:schema:policy",
        "title": "voicebot policy override",
        "description": (
            "Overrides of the shipped compliance policy (voicebot/compliance/default_policy.yaml):"
            " mappings merge key by key, lists and values replace. Given with --policy, "
            "$VOICEBOT_POLICY, or policy.yaml in the user config directory."
        ),
        **generated,
    }


def render(schema: dict[str, Any]) -> str:
    """A schema as committed: stable, indented, UTF-8."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name -> content, for every schema this module owns."""
    return {
        CAMPAIGN_SCHEMA_FILE: render(campaign_schema()),
        POLICY_SCHEMA_FILE: render(policy_schema()),
    }


def _drop_required(node: Any) -> None:
    """An override may give any subset: the defaults supply the rest."""
    if isinstance(node, dict):
        node.pop("required", None)
        for value in node.values():
            _drop_required(value)
    elif isinstance(node, list):
        for value in node:
            _drop_required(value)
