"""Approved prompts: what the bot may say, per locale (``prompts/<locale>.yaml``).

A flow names prompt ids, never free text, so that everything a callee can hear has been
reviewed once, in one file per language. Text may hold ``{variables}`` from the contact row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from voicebot.flow.model import VARIABLE_RE
from voicebot.yamlsource import SourceErrors, YamlDocument, load_yaml


@dataclass(frozen=True)
class PromptCatalog:
    """The approved texts of one locale."""

    locale: str
    texts: Mapping[str, str]
    document: YamlDocument | None = None

    @classmethod
    def load(cls, directory: Path, locale: str) -> PromptCatalog:
        """Load ``<directory>/<locale>.yaml``; errors name the file and line."""
        path = directory / f"{locale}.yaml"
        doc = load_yaml(path)
        data = doc.data if doc.data is not None else {}
        if not isinstance(data, dict):
            raise SourceErrors([doc.error((), "expected a mapping of prompt id -> text")])
        problems = [
            doc.error((key,), "prompt text must be a non-empty string")
            for key, text in data.items()
            if not isinstance(text, str) or not text.strip()
        ]
        if problems:
            raise SourceErrors(problems)
        return cls(locale=locale, texts={str(k): v for k, v in data.items()}, document=doc)

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self.texts

    def variables(self, prompt_id: str) -> set[str]:
        """The ``{variables}`` a prompt needs."""
        return set(VARIABLE_RE.findall(self.texts[prompt_id]))

    def render(self, prompt_id: str, variables: Mapping[str, object]) -> str:
        """The prompt's text with variables filled in.

        Raises:
            KeyError: the prompt id is unknown, or a variable has no value.
        """
        text = self.texts[prompt_id]
        missing = sorted(v for v in VARIABLE_RE.findall(text) if v not in variables)
        if missing:
            raise KeyError(f"prompt {prompt_id!r} needs variables {missing}")
        return VARIABLE_RE.sub(lambda m: str(variables[m.group(1)]), text)
