"""Loading persona books: the built-in one, or a user's file, with file:line errors."""

from __future__ import annotations

from pathlib import Path

from voicebot.personas.model import Persona, PersonaBook
from voicebot.yamlsource import load_yaml

BUILTIN = Path(__file__).with_name("builtin.yaml")


def load_personas(path: Path | None = None) -> dict[str, Persona]:
    """Personas by name from ``path`` (default: the built-in book).

    Raises:
        SourceErrors: the file is malformed; each error names file:line:col and the field.
    """
    document = load_yaml(path or BUILTIN)
    return dict(document.validate(PersonaBook).personas)
