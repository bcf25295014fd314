"""Campaigns for auditors and admins: the list with counts, the HTML report, the attempts.

Everything here is read from the store through :mod:`voicebot.campaign.stored`, which masks
every number before it leaves; reading a report or a campaign's calls is audited.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from voicebot.campaign.report import render_report
from voicebot.campaign.stored import (
    UnknownCampaign,
    campaign_calls,
    campaign_summaries,
    stored_results,
)
from voicebot.web.context import audit, error, user_of
from voicebot.web.inputs import Params, path_params
from voicebot.web.keys import STORE

# The report is one self-contained file with inline CSS and SVG and no script: let it style
# itself, and nothing else.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


class CampaignPath(Params):
    """A campaign is named as its campaign file names it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


async def get_campaigns(request: web.Request) -> web.Response:
    """Every campaign, newest first, with its contacts and its attempts counted by outcome."""
    summaries = await campaign_summaries(request.app[STORE])
    return web.json_response({"campaigns": [s.as_json() for s in summaries]})


async def get_campaign_report(request: web.Request) -> web.Response:
    """The campaign's HTML report as the store has it, numbers masked (audited)."""
    name = path_params(request, CampaignPath).name
    try:
        results = await stored_results(request.app[STORE], name)
    except UnknownCampaign as exc:
        return error(404, "not_found", str(exc))
    await audit(request, "report_viewed", actor=user_of(request).name, campaign=name)
    return web.Response(
        text=render_report(results),
        content_type="text/html",
        headers={"Content-Security-Policy": REPORT_CSP},
    )


async def get_campaign_calls(request: web.Request) -> web.Response:
    """The campaign's attempts: masked number, state, outcome, times, QA verdict (audited)."""
    name = path_params(request, CampaignPath).name
    try:
        calls = await campaign_calls(request.app[STORE], name)
    except UnknownCampaign as exc:
        return error(404, "not_found", str(exc))
    await audit(request, "calls_viewed", actor=user_of(request).name, campaign=name)
    return web.json_response({"campaign": name, "calls": [c.as_json() for c in calls]})
