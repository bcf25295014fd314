"""YAML documents that remember where each value came from, and errors that say so.

Every file a person writes (flows, prompts, policies, personas, campaigns) is read through
here, so that any mistake is reported as ``file:line:col: field: what was expected``.
Booleans follow YAML 1.2 (only true/false), so ``on:``, ``yes``, ``no`` and ``NO`` (Norway)
stay strings, as a flow designer means them.

The files may be hostile (pasted from anywhere, uploaded through the web designer), so reading
is guarded: a size limit, no control characters, and a cap on the values alias expansion may
produce (a "billion laughs" file is a few hundred bytes). Each fault is one positioned line.
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

MAX_FILE_BYTES = 1_000_000
"""Largest file read: a flow, a prompt catalogue or a policy is a few kilobytes."""
MAX_VALUES = 100_000
"""Most values (after alias expansion) one document may hold."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters other than tab, line feed and carriage return."""


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


def _control_error(text: str, file: str) -> SourceError | None:
    match = _CONTROL.search(text)
    if match is None:
        return None
    line = text.count("\n", 0, match.start()) + 1
    col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
    return SourceError(
        file, line, col, "", f"control character {match.group()!r} is not allowed in the file"
    )


def parse_yaml(text: str, file: str = "<string>") -> YamlDocument:
    """Parse one YAML document, recording positions; syntax errors become :class:`SourceErrors`."""
    text = text.removeprefix("\ufeff")
    if (control := _control_error(text, file)) is not None:
        raise SourceErrors([control])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        doc = YamlDocument(file=file, data=None)
        if node is not None:
            doc.data = _construct(loader, node, (), doc.positions, [MAX_VALUES])
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


def parse_guarded(text: str, file: str) -> YamlDocument:
    """Parse text that did not come from a file (an upload, a form) under the same guards as
    :func:`load_yaml`: the size limit first, then control characters, aliases, syntax."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_FILE_BYTES:
        raise SourceErrors(
            [
                SourceError(
                    file, 1, 1, "", f"text is {size} bytes; at most {MAX_FILE_BYTES} are read"
                )
            ]
        )
    return parse_yaml(text, file)


def load_yaml(path: Path | str) -> YamlDocument:
    """Read and parse a YAML file; a missing, unreadable, oversized or binary file is a
    :class:`SourceErrors` too (one line naming the file and the fault)."""
    p = Path(path)

    def fault(message: str) -> SourceErrors:
        return SourceErrors([SourceError(str(p), 1, 1, "", message)])

    try:
        if p.is_dir():
            raise fault("is a directory, not a YAML file")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise fault(f"file is {size} bytes; at most {MAX_FILE_BYTES} are read")
        raw = p.read_bytes()
    except OSError as exc:
        raise fault(f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fault(
            f"not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})"
        ) from None
    return parse_yaml(text, str(p))


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct(
    loader: _Loader,
    node: yaml.Node,
    path: Path_,
    positions: dict[Path_, tuple[int, int]],
    budget: list[int],
) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise yaml.MarkedYAMLError(
            problem=f"more than {MAX_VALUES} values after expanding aliases (an alias bomb?)",
            problem_mark=node.start_mark,
        )
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        explicit = sum(1 for k, _ in node.value if k.tag != _MERGE_TAG)
        if explicit != len(node.value):
            loader.flatten_mapping(node)  # `<<: *anchor` merge keys, spliced in first
        merged = len(node.value) - explicit
        written: set[Any] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise yaml.MarkedYAMLError(
                    problem="a mapping key must be a plain value", problem_mark=key_node.start_mark
                )
            if key in written:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
                )
            if index >= merged:
                written.add(key)  # a merged key may be overridden, a written one not
            child = (*path, key)
            out[key] = _construct(loader, value_node, child, positions, budget)
            # A key's own position is more useful than its value's for "unknown field" errors.
            positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, (*path, i), positions, budget)
            for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
