"""Loading persona books: the built-in one, or a user's file, with file:line errors."""

from __future__ import annotations

from pathlib import Path

from voicebot.sim.personas.model import Persona, PersonaBook
from voicebot.sim.personas.recording import RecordingError, load_recording
from voicebot.yamlsource import SourceError, SourceErrors, YamlDocument, load_yaml

BUILTIN = Path(__file__).with_name("builtin.yaml")


def load_personas(path: Path | None = None) -> dict[str, Persona]:
    """Personas by name from ``path`` (default: the built-in book).

    ``play`` steps are resolved against the book's folder and decoded now, so a missing or
    undecodable recording is reported when the book is read, not in the middle of a call.

    Raises:
        SourceErrors: the file is malformed or a recording cannot be played; each error names
            file:line:col and the field.
    """
    book = path or BUILTIN
    document = load_yaml(book)
    personas = dict(document.validate(PersonaBook).personas)
    return _with_recordings(document, personas, book.parent)


def _with_recordings(
    document: YamlDocument, personas: dict[str, Persona], folder: Path
) -> dict[str, Persona]:
    errors: list[SourceError] = []
    out: dict[str, Persona] = {}
    for name, persona in personas.items():
        script = list(persona.script)
        for i, step in enumerate(script):
            if step.play is None:
                continue
            recording = (folder / step.play).resolve()
            try:
                load_recording(recording)
            except RecordingError as exc:
                errors.append(document.error(("personas", name, "script", i, "play"), str(exc)))
                continue
            script[i] = step.model_copy(update={"play": str(recording)})
        out[name] = persona.model_copy(update={"script": script})
    if errors:
        raise SourceErrors(errors)
    return out
