"""Read a flow file into a checked :class:`Flow`, with its prompts, or say exactly what is wrong.

Everything a designer can get wrong in the *shape* of a flow (YAML syntax, unknown fields,
wrong types, a ``next`` that names no state) is reported here, all at once, as
``file:line:col: field: expectation``. Safety rules are the lint's job (``flow/lint.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from voicebot.flow.model import DTMF_DIGITS, Flow, reference_errors
from voicebot.flow.prompts import PromptCatalog
from voicebot.resources import prompts_dir_for
from voicebot.yamlsource import Path_, SourceError, SourceErrors, YamlDocument, load_yaml

_EVENT_MAPS = ("on", "handlers")


@dataclass(frozen=True)
class LoadedFlow:
    """A validated flow with where it came from and the prompts of its locale.

    ``prompts`` is None when ``<prompts_dir>/<locale>.yaml`` does not exist; the lint reports
    that, so a designer can still graph or lint a flow for a locale not yet translated.
    """

    path: Path
    flow: Flow
    document: YamlDocument
    prompts_dir: Path
    prompts: PromptCatalog | None

    @property
    def name(self) -> str:
        """The flow's name: its ``name`` field, else the file name without extension."""
        return self.flow.name or self.path.stem


def load_flow(path: Path | str, prompts_dir: Path | None = None) -> LoadedFlow:
    """Load and validate a flow file.

    Args:
        path: the flow's YAML file.
        prompts_dir: where ``<locale>.yaml`` prompt files are; default: a ``prompts`` folder
            beside the flow file, else ``../prompts`` beside the flow's folder, else the
            prompts shipped with voicebot.

    Raises:
        SourceErrors: every problem found, each with file:line:col.
    """
    flow_path = Path(path)
    document = load_yaml(flow_path)
    if not isinstance(document.data, dict):
        raise SourceErrors(
            [
                document.error(
                    (), "a flow is a mapping with purpose, locale, company, start and states"
                )
            ]
        )
    problems: list[SourceError] = []
    flow: Flow | None = None
    try:
        flow = document.validate(Flow)
    except SourceErrors as exc:
        problems.extend(_with_hint(e) for e in exc.errors)
    if flow is not None:
        problems.extend(document.error(p, message) for p, message in reference_errors(flow))
    else:  # still name every state that names no state, from the raw data
        problems.extend(
            document.error(p, message) for p, message in _raw_reference_errors(document.data)
        )
    directory = prompts_dir if prompts_dir is not None else default_prompts_dir(flow_path)
    locale = flow.locale if flow is not None else document.data.get("locale")
    prompts = None
    if isinstance(locale, str) and locale and "/" not in locale and "\\" not in locale:
        catalog_file = directory / f"{locale}.yaml"
        if catalog_file.exists():
            try:
                prompts = PromptCatalog.load(directory, locale)
            except SourceErrors as exc:
                problems.extend(exc.errors)
    if problems or flow is None:
        raise SourceErrors(_unique(problems))
    return LoadedFlow(flow_path, flow, document, directory, prompts)


def _unique(errors: list[SourceError]) -> list[SourceError]:
    return list(dict.fromkeys(errors))


def _with_hint(error: SourceError) -> SourceError:
    """A digit written as an event key (``on: {1: next}``) gets "write dtmf.1"."""
    parts = re.split(r"[.\[\]]+", error.field)
    for i, part in enumerate(parts[:-1]):
        if part in _EVENT_MAPS and len(parts) > i + 1:
            key = parts[i + 1]
            if len(key) == 1 and key in DTMF_DIGITS:
                return replace(
                    error, message=f"{error.message}; a keypad digit is written dtmf.{key}"
                )
    return error


def _raw_reference_errors(data: Any) -> Iterator[tuple[Path_, str]]:
    """Names of states that name no state, read from data that did not validate."""
    states = data.get("states") if isinstance(data, dict) else None
    if not isinstance(states, dict):
        return
    known = {k for k in states if isinstance(k, str)}

    def check(path: Path_, target: object) -> Iterator[tuple[Path_, str]]:
        if isinstance(target, str) and target not in known:
            yield path, f"no state named {target!r}; expected one of: {', '.join(sorted(known))}"

    yield from check(("start",), data.get("start"))
    yield from check(("voicemail",), data.get("voicemail"))
    handlers = data.get("handlers")
    if isinstance(handlers, dict):
        for event, target in handlers.items():
            yield from check(("handlers", event), target)
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        yield from check(("states", name, "next"), state.get("next"))
        on = state.get("on")
        if isinstance(on, dict):
            for event, target in on.items():
                yield from check(("states", name, "on", event), target)
        actions = state.get("do")
        for i, action in enumerate(actions if isinstance(actions, list) else []):
            handoff = action.get("handoff") if isinstance(action, dict) else None
            if isinstance(handoff, dict):
                yield from check(
                    ("states", name, "do", i, "handoff", "fallback"), handoff.get("fallback")
                )


def default_prompts_dir(flow_path: Path) -> Path:
    """Where a flow file's prompts are when not given: a folder of flows may carry its own
    (``prompts/`` beside the flows), else ``../prompts``, else the bundled ones."""
    beside = flow_path.parent / "prompts"
    return beside if beside.is_dir() else prompts_dir_for(flow_path)
