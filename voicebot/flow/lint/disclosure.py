"""``disclosure-first``: the callee hears who calls, that the call is recorded, and how to opt
out before anything else.

The walk follows every path from ``start`` while the disclosure has not been said and reports
the first audible thing on each: a prompt, a reprompt, a handoff's hold or whisper, or the
handoff itself. Paths through ``hangup`` are not followed (nobody is there to hear). Then the
disclosure text itself is checked against the flow's company and the locale's keywords.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from voicebot.flow.lint.context import LintContext
from voicebot.flow.lint.finding import Finding, Severity
from voicebot.flow.lint.walk import edges_from
from voicebot.flow.model import OPT_OUT_DIGIT
from voicebot.yamlsource import Path_

RULE = "disclosure-first"

RECORDING_WORDS: dict[str, tuple[str, ...]] = {
    "zh": ("录音",),
    "en": ("record",),
}
"""Per language (the locale's first part): words of which one announces the recording."""

OPT_OUT_WORDS: dict[str, tuple[str, ...]] = {
    "zh": (OPT_OUT_DIGIT, "九"),
    "en": (OPT_OUT_DIGIT, "nine"),
}
"""Per language: how the disclosure may name the opt-out digit (the digit itself always works)."""


def _first_audible(ctx: LintContext, name: str) -> tuple[Path_, str] | bool | None:
    """The first thing state ``name`` lets the callee hear before the disclosure.

    Returns (path, what) for a violation, True when the state says the disclosure first
    (the path is safe from here on), or None when the state is silent.
    """
    flow = ctx.flow
    state = flow.states[name]
    for i, action in enumerate(state.do):
        handoff = action.handoff
        if action.hangup:
            return True  # the call ends here, silently
        if handoff is None:
            continue
        base: Path_ = ("states", name, "do", i, "handoff")
        if handoff.hold is not None:
            return (*base, "hold"), f"hold prompt {handoff.hold!r}"
        if handoff.whisper is not None:
            return (*base, "whisper"), f"whisper prompt {handoff.whisper!r}"
        return base, f"a handoff to queue {handoff.queue!r}"
    for i, prompt in enumerate(state.say):
        if prompt == flow.disclosure:
            return True
        return ("states", name, "say", i), f"prompt {prompt!r}"
    if state.listen is not None and state.listen.reprompt:
        reprompt = state.listen.reprompt[0]
        if reprompt != flow.disclosure:
            return ("states", name, "listen", "reprompt", 0), f"reprompt {reprompt!r}"
    return None


def _walk(ctx: LintContext) -> Iterator[Finding]:
    flow = ctx.flow
    seen = {flow.start}
    queue = deque([flow.start])
    while queue:
        name = queue.popleft()
        verdict = _first_audible(ctx, name)
        if verdict is True:
            continue
        if isinstance(verdict, tuple):
            path, what = verdict
            where = (
                "the start state"
                if name == flow.start
                else f"reached from start {flow.start!r} without it"
            )
            yield ctx.finding(
                RULE,
                Severity.ERROR,
                path,
                f"{what} can be heard before the disclosure {flow.disclosure!r} "
                f"(state {name!r} is {where})",
            )
            continue
        for edge in edges_from(flow, name):
            if edge.event == "hangup" or edge.target in seen:
                continue
            seen.add(edge.target)
            queue.append(edge.target)


def _text(ctx: LintContext) -> Iterator[Finding]:
    flow = ctx.flow
    catalog = ctx.loaded.prompts
    if catalog is None or flow.disclosure not in catalog:
        return  # prompt-missing reports it
    text = catalog.texts[flow.disclosure]
    language = flow.locale.split("-")[0]
    missing = []
    if "{company}" not in text and flow.company not in text:
        missing.append(f"the company ({{company}} or {flow.company!r})")
    recording = RECORDING_WORDS.get(language)
    if recording is None:
        yield ctx.prompt_finding(
            RULE,
            Severity.WARNING,
            flow.disclosure,
            f"no recording keywords known for language {language!r}; cannot check that the "
            "disclosure announces the recording",
        )
    elif not any(word in text.lower() for word in recording):
        missing.append(f"that the call is recorded (one of: {', '.join(recording)})")
    opt_out = OPT_OUT_WORDS.get(language, (OPT_OUT_DIGIT,))
    if not any(word in text.lower() for word in opt_out):
        missing.append(f"how to opt out (press {OPT_OUT_DIGIT})")
    if missing:
        yield ctx.prompt_finding(
            RULE,
            Severity.ERROR,
            flow.disclosure,
            f"disclosure {flow.disclosure!r} does not say {'; nor '.join(missing)}",
        )


def check(ctx: LintContext) -> Iterator[Finding]:
    """Nothing audible before the disclosure, and the disclosure says what it must."""
    yield from _walk(ctx)
    yield from _text(ctx)
