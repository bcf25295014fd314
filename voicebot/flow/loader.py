"""Read a flow file into a checked :class:`Flow`, with its prompts, or say exactly what is wrong.

Everything a designer can get wrong in the *shape* of a flow (YAML syntax, unknown fields,
wrong types, a ``next`` that names no state) is reported here, all at once, as
``file:line:col: field: expectation``. Safety rules are the lint's job (``flow/lint.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voicebot.flow.model import Flow, reference_errors
from voicebot.flow.prompts import PromptCatalog
from voicebot.resources import prompts_dir_for
from voicebot.yamlsource import SourceErrors, YamlDocument, load_yaml


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
    flow = document.validate(Flow)
    problems = [document.error(p, message) for p, message in reference_errors(flow)]
    if problems:
        raise SourceErrors(problems)
    directory = prompts_dir if prompts_dir is not None else default_prompts_dir(flow_path)
    catalog_file = directory / f"{flow.locale}.yaml"
    prompts = PromptCatalog.load(directory, flow.locale) if catalog_file.is_file() else None
    return LoadedFlow(flow_path, flow, document, directory, prompts)


def default_prompts_dir(flow_path: Path) -> Path:
    """Where a flow file's prompts are when not given: a folder of flows may carry its own
    (``prompts/`` beside the flows), else ``../prompts``, else the bundled ones."""
    beside = flow_path.parent / "prompts"
    return beside if beside.is_dir() else prompts_dir_for(flow_path)
