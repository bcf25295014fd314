"""YAML documents that remember where each value came from, and errors that say so.

Every file a person writes (flows, prompts, policies, personas, campaigns) is read through
here, so that any mistake is reported as ``file:line:col: field: what was expected``.
Booleans follow YAML 1.2 (only true/false), so ``on:``, ``yes``, ``no`` and ``NO`` (Norway)
stay strings, as a flow designer means them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class SourceError:
    """One problem in a file, pinned to a position (1-based line and column)."""

    file: str
    line: int
    col: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class SourceErrors(ValueError):
    """A file could not be used; carries every problem found, each with its position."""

    def __init__(self, errors: Iterable[SourceError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class YamlDocument:
    """Plain data parsed from YAML plus the position of every mapping key and value."""

    file: str
    data: Any
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path_) -> tuple[int, int]:
        """Best position for a path: the path itself, else its nearest recorded ancestor."""
        probe = tuple(path)
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))

    def error(self, path: Path_, message: str) -> SourceError:
        """An error at ``path`` in this document."""
        line, col = self.position(path)
        return SourceError(self.file, line, col, dotted(path), message)

    def validate(self, model: type[M]) -> M:
        """Validate the data as ``model``; raise :class:`SourceErrors` with positions."""
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise SourceErrors(self.validation_errors(exc)) from None

    def validation_errors(self, exc: ValidationError) -> list[SourceError]:
        """Translate pydantic's errors into positioned ones."""
        out = []
        for err in exc.errors(include_url=False):
            loc = _strip_union_tags(err["loc"])
            out.append(self.error(loc, _describe(err)))
        return out


def dotted(path: Path_) -> str:
    """``("states", "offer", "listen", "timeout")`` -> ``states.offer.listen.timeout``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _strip_union_tags(loc: tuple[int | str, ...]) -> Path_:
    # pydantic adds the union member's type name (e.g. "str", "function-after[...]") to loc.
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in _TYPE_TAGS)))


_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "constrained-str"}


def _describe(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    given = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see flows/flow.schema.json)"
    if kind == "string_pattern_mismatch":
        return f"{given!r} does not match the expected form {ctx.get('pattern')}"
    if kind == "enum":
        return f"{given!r} is not one of: {ctx.get('expected')}"
    message = str(err["msg"])
    message = re.sub(r"^Value error, ", "", message)
    if given is not None and not isinstance(given, dict | list):
        message += f" (got {given!r})"
    return message


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml(text: str, file: str = "<string>") -> YamlDocument:
    """Parse one YAML document, recording positions; syntax errors become :class:`SourceErrors`."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        doc = YamlDocument(file=file, data=None)
        if node is not None:
            doc.data = _construct(loader, node, (), doc.positions)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise SourceErrors(
            [SourceError(file, line, col, "", f"YAML syntax: {problem}{context}")]
        ) from None
    finally:
        loader.dispose()


def load_yaml(path: Path | str) -> YamlDocument:
    """Read and parse a YAML file; a missing or unreadable file is a :class:`SourceErrors` too."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceErrors([SourceError(str(p), 1, 1, "", f"cannot read file: {exc}")]) from None
    return parse_yaml(text, str(p))


def _construct(
    loader: _Loader, node: yaml.Node, path: Path_, positions: dict[Path_, tuple[int, int]]
) -> Any:
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise yaml.MarkedYAMLError(
                    problem="a mapping key must be a plain value", problem_mark=key_node.start_mark
                )
            if key in out:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
                )
            child = (*path, key)
            out[key] = _construct(loader, value_node, child, positions)
            # A key's own position is more useful than its value's for "unknown field" errors.
            positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, (*path, i), positions) for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
