"""The flow lint: refuses flows that could break the calling rules before any call is placed.

``lint(load_flow(path))`` returns every :class:`Finding`, sorted by position. Each rule has a
stable id (``disclosure-first``, ``opt-out-reachable``, ...) used in output, docs and tests;
:data:`RULES` lists them. Shape errors (bad YAML, unknown fields) are the loader's, not ours.
"""

from __future__ import annotations

from voicebot.flow.lint import disclosure, optout, prompts, structure
from voicebot.flow.lint.context import LintContext, Rule
from voicebot.flow.lint.finding import Finding, Severity, TraceStep
from voicebot.flow.loader import LoadedFlow

LINT_VERSION = "2"
"""Raised whenever a rule is added or made stricter: an approval records the version it was
linted with, and a newer lint re-checks it (see :mod:`voicebot.flow.approval`)."""

RULES: tuple[Rule, ...] = (
    Rule(
        "disclosure-first",
        "nothing audible before the identity + recording + opt-out disclosure, from any entry",
        disclosure.first,
    ),
    Rule(
        "disclosure-text",
        "the disclosure names the company, the recording and the opt-out, as words",
        disclosure.text,
    ),
    Rule(
        "disclosure-recorded",
        "the disclosure is said while the call is recorded",
        disclosure.recorded,
    ),
    Rule(
        "opt-out-reachable",
        "9 and the spoken opt-out opt out from every state, first thing",
        optout.check,
    ),
    Rule(
        "opt-out-final",
        "after an opt-out only a confirmation and goodbye, then the end",
        optout.final,
    ),
    Rule("loop", "every path ends, also for a silent or misunderstood caller", structure.loop),
    Rule(
        "variable-defined",
        "every variable a prompt uses is defined on every path to it",
        structure.variable_defined,
    ),
    Rule("dead-end", "no state where the call can get stuck", structure.dead_end),
    Rule("unreachable", "every state reachable from start", structure.unreachable),
    Rule(
        "listen-timeout",
        "every listening state has a timeout within the documented bounds",
        structure.listen_timeout,
    ),
    Rule("prompt-missing", "every prompt and variable exists in the locale", prompts.check),
    Rule(
        "unknown-intent", "intents come from the recognizer's vocabulary", structure.unknown_intent
    ),
    Rule(
        "handoff-fallback",
        "every handoff says where to go when no agent accepts",
        structure.handoff_fallback,
    ),
    Rule(
        "event-not-heard",
        "`on` maps only events the state can hear (warning)",
        structure.event_not_heard,
    ),
    Rule(
        "input-unmapped",
        "every accepted digit or intent is mapped (warning)",
        structure.input_unmapped,
    ),
)
"""Every rule, in the order the docs present them."""


def lint(loaded: LoadedFlow) -> list[Finding]:
    """Every finding of every rule for one loaded flow, sorted by file, line and column."""
    ctx = LintContext(loaded)
    findings: set[Finding] = set()
    for rule in RULES:
        for finding in rule.check(ctx):
            if finding.rule != rule.id:
                raise AssertionError(f"rule {rule.id} reported a finding as {finding.rule}")
            findings.add(finding)
    return sorted(findings)


__all__ = ["LINT_VERSION", "RULES", "Finding", "Rule", "Severity", "TraceStep", "lint"]
