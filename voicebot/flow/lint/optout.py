"""``opt-out-reachable``: "press 9" opts out from every listening state, and nothing overrides it.

The disclosure promises the callee that 9 stops the calls at any time, so the flow's global
handler ``dtmf.9`` must lead to a state that runs ``opt_out`` before saying anything, and no
state may map ``dtmf.9`` elsewhere. A spoken "don't call me again" (``intent.opt_out``) should
work the same way; a flow that misses it gets a warning.
"""

from __future__ import annotations

from collections.abc import Iterator

from voicebot.flow.lint.context import LintContext
from voicebot.flow.lint.finding import Finding, Severity
from voicebot.flow.lint.walk import listening, opts_out_first
from voicebot.flow.model import OPT_OUT_DIGIT

RULE = "opt-out-reachable"
DTMF_EVENT = f"dtmf.{OPT_OUT_DIGIT}"
INTENT_EVENT = "intent.opt_out"


def _dtmf(ctx: LintContext) -> Iterator[Finding]:
    flow = ctx.flow
    target = flow.handlers.get(DTMF_EVENT)
    if not listening(flow):
        yield ctx.finding(
            RULE,
            Severity.ERROR,
            ("start",),
            f"no state listens, so the {OPT_OUT_DIGIT} the disclosure promises can never be "
            "heard; add a listening state",
        )
    if target is None:
        yield ctx.finding(
            RULE,
            Severity.ERROR,
            ("handlers",),
            f"no global handler for {DTMF_EVENT}; add `handlers: {{{DTMF_EVENT}: opt_out}}` "
            "and a state `opt_out` that does `opt_out` first",
        )
    else:
        why = opts_out_first(flow, target)
        if why is not None:
            yield ctx.finding(
                RULE,
                Severity.ERROR,
                ("handlers", DTMF_EVENT),
                f"{DTMF_EVENT} must opt out before anything is said: {why}",
            )
    for name, state in flow.states.items():
        own = state.on.get(DTMF_EVENT)
        if own is not None and own != target:
            yield ctx.finding(
                RULE,
                Severity.ERROR,
                ("states", name, "on", DTMF_EVENT),
                f"state {name!r} maps {DTMF_EVENT} to {own!r}; no state may override "
                f"{OPT_OUT_DIGIT} (remove it: the global handler opts out)",
            )


def _intent(ctx: LintContext) -> Iterator[Finding]:
    flow = ctx.flow
    if not listening(flow):
        return
    target = flow.handlers.get(INTENT_EVENT)
    if target is None:
        yield ctx.finding(
            RULE,
            Severity.ERROR,
            ("handlers",),
            f'no global handler for {INTENT_EVENT}: a spoken "don\'t call me again" is not '
            f"honoured; add `{INTENT_EVENT}: <the opt-out state>` to `handlers`",
        )
    elif (why := opts_out_first(flow, target)) is not None:
        yield ctx.finding(
            RULE,
            Severity.ERROR,
            ("handlers", INTENT_EVENT),
            f"{INTENT_EVENT} should opt out before anything is said: {why}",
        )
    for name, state in flow.states.items():
        own = state.on.get(INTENT_EVENT)
        if own is not None and own != target and opts_out_first(flow, own) is not None:
            yield ctx.finding(
                RULE,
                Severity.ERROR,
                ("states", name, "on", INTENT_EVENT),
                f"state {name!r} maps {INTENT_EVENT} to {own!r}, which does not opt out first",
            )


def check(ctx: LintContext) -> Iterator[Finding]:
    """9 and the spoken opt-out reach an opt-out, first thing, from every state."""
    yield from _dtmf(ctx)
    yield from _intent(ctx)
    yield from ctx.violations(RULE)


def final(ctx: LintContext) -> Iterator[Finding]:
    """After an opt-out: a confirmation and goodbye, then the end."""
    yield from ctx.violations("opt-out-final")
