"""``prompt-missing``: everything the flow says exists in its locale, with every variable known.

A flow names prompt ids; the approved texts live in ``prompts/<locale>.yaml``. A missing id or
a ``{variable}`` nobody fills would make the call fail (or say a placeholder) mid-conversation,
so both are errors, reported where the flow uses the prompt.
"""

from __future__ import annotations

from collections.abc import Iterator

from voicebot.flow.lint.context import LintContext, display_path
from voicebot.flow.lint.finding import Finding, Severity
from voicebot.flow.model import Flow
from voicebot.yamlsource import Path_

RULE = "prompt-missing"
BUILT_IN_VARIABLES = frozenset({"company"})
"""Variables every prompt may use without declaring them."""


def prompt_uses(flow: Flow) -> Iterator[tuple[Path_, str]]:
    """(path, prompt id) of every prompt the flow uses, in file order."""
    for name, state in flow.states.items():
        for i, action in enumerate(state.do):
            if action.handoff is not None:
                base: Path_ = ("states", name, "do", i, "handoff")
                if action.handoff.hold is not None:
                    yield (*base, "hold"), action.handoff.hold
                if action.handoff.whisper is not None:
                    yield (*base, "whisper"), action.handoff.whisper
        for i, prompt in enumerate(state.say):
            yield ("states", name, "say", i), prompt
        if state.listen is not None:
            for i, prompt in enumerate(state.listen.reprompt):
                yield ("states", name, "listen", "reprompt", i), prompt


def known_variables(flow: Flow) -> set[str]:
    """Variables a prompt may use: built in, declared in ``variables``, or set by ``set``."""
    known = set(BUILT_IN_VARIABLES) | set(flow.variables)
    for state in flow.states.values():
        for action in state.do:
            if action.set is not None:
                known.update(action.set)
    return known


def check(ctx: LintContext) -> Iterator[Finding]:
    """Every used prompt id exists in the locale's file; every variable in it has a source."""
    flow = ctx.flow
    catalog = ctx.loaded.prompts
    catalog_file = display_path(ctx.loaded.prompts_dir / f"{flow.locale}.yaml")
    if catalog is None:
        yield ctx.finding(
            RULE,
            Severity.ERROR,
            ("locale",),
            f"no prompts for locale {flow.locale!r}: {catalog_file} does not exist",
        )
        return
    uses = list(prompt_uses(flow))
    if flow.disclosure not in catalog and all(p != flow.disclosure for _, p in uses):
        yield ctx.finding(
            RULE,
            Severity.ERROR,
            ("disclosure",),
            f"disclosure prompt {flow.disclosure!r} is not in {catalog_file}",
        )
    known = known_variables(flow)
    checked: set[str] = set()
    for path, prompt in uses:
        if prompt not in catalog:
            yield ctx.finding(
                RULE, Severity.ERROR, path, f"prompt {prompt!r} is not in {catalog_file}"
            )
            continue
        if prompt in checked:
            continue
        checked.add(prompt)
        for variable in sorted(catalog.variables(prompt) - known):
            yield ctx.finding(
                RULE,
                Severity.ERROR,
                path,
                f"prompt {prompt!r} uses {{{variable}}}, which is neither declared in "
                "`variables`, built in ({company}) nor set by a `set` action",
            )
