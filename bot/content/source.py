"""YAML files with line numbers, and problems that point editors at the exact place.

Content editors are not programmers: every error they see must name the file, the line and
column, say what is wrong in plain words and, where we can guess, what they meant. This module
is the one place that turns YAML and pydantic errors into such :class:`Problem` records; the
dialog loader, the catalogue loader and ``urapolku check`` all build on it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

Loc = tuple[str | int, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    #: worth knowing, nothing to fix now (e.g. texts a language variant takes from its base)
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a content file, located as precisely as we can."""

    file: str
    line: int | None
    column: int | None
    message: str
    hint: str | None = None
    severity: Severity = Severity.ERROR
    code: str = "schema"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.severity.value}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class ContentError(Exception):
    """Raised when content cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(slots=True)
class YamlDocument:
    """Parsed YAML data plus the 1-based (line, column) of every mapping key and list item."""

    path: Path
    data: Any
    marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    display_name: str = ""

    @property
    def name(self) -> str:
        return self.display_name or str(self.path)

    def position(self, loc: Iterable[str | int]) -> tuple[int | None, int | None]:
        """Best-known position for ``loc``: the deepest prefix of it that exists in the file."""
        parts = tuple(loc)
        while True:
            if parts in self.marks:
                return self.marks[parts]
            if not parts:
                return (None, None)
            parts = parts[:-1]

    def problem(
        self,
        loc: Iterable[str | int],
        message: str,
        *,
        hint: str | None = None,
        severity: Severity = Severity.ERROR,
        code: str = "schema",
    ) -> Problem:
        line, column = self.position(loc)
        return Problem(self.name, line, column, message, hint, severity, code)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader for editors, with YAML 1.2 rules for plain values: refuses duplicate keys
    (PyYAML silently keeps the last one); only true/false are booleans (an option with the id
    ``no`` stays text); numbers have no underscores, no leading zeros and no base-60, so
    ``30_49``, ``9:00`` and the postcode ``08100`` stay text instead of 3049, 540 and 4160."""


_REPLACED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the key '{key}' appears twice in the same block",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _record_marks(node: yaml.Node, loc: Loc, marks: dict[Loc, tuple[int, int]]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*loc, str(key_node.value))
            marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _record_marks(value_node, child, marks)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*loc, index)
            marks[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _record_marks(item, child, marks)


def parse_yaml(text: str, path: Path, display_name: str = "") -> YamlDocument:
    """Parse ``text``; raise :class:`ContentError` with the position of a syntax error."""
    name = display_name or str(path)
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        message = (exc.problem or exc.context or "the file is not valid YAML").strip()
        raise ContentError(
            [
                Problem(
                    name,
                    line,
                    column,
                    f"YAML syntax: {message}",
                    _syntax_hint(message),
                    code="yaml",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise ContentError(
            [Problem(name, None, None, f"YAML syntax: {exc}", code="yaml")]
        ) from None
    marks: dict[Loc, tuple[int, int]] = {(): (1, 1)}
    if node is not None:
        _record_marks(node, (), marks)
    return YamlDocument(path=path, data=data, marks=marks, display_name=display_name)


def load_yaml(path: Path, display_name: str = "") -> YamlDocument:
    """Read and parse one file; unreadable files become problems too."""
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ContentError(
            [Problem(name, None, None, "the file is not UTF-8 text", "save it as UTF-8", code="io")]
        ) from None
    except OSError as exc:
        raise ContentError(
            [Problem(name, None, None, f"cannot read the file: {exc.strerror}", code="io")]
        ) from None
    return parse_yaml(text, path, display_name)


def _syntax_hint(message: str) -> str | None:
    if "mapping values are not allowed" in message:
        return "a text containing ': ' must be put in quotes"
    if "found character '\\t'" in message:
        return "use spaces, not tabs, for indentation"
    if "could not find expected ':'" in message:
        return "check the indentation of this line and the one above"
    if "appears twice" in message:
        return "every key may appear only once in a block"
    return None


_PYDANTIC_MESSAGES = {
    "missing": "'{field}' is required here",
    "extra_forbidden": "'{field}' is not a known field here",
    "string_type": "'{field}' must be text",
    "int_type": "'{field}' must be a whole number",
    "int_parsing": "'{field}' must be a whole number",
    "bool_type": "'{field}' must be true or false",
    "bool_parsing": "'{field}' must be true or false",
    "list_type": "'{field}' must be a list (lines starting with '- ')",
    "dict_type": "'{field}' must be a block of 'key: value' lines",
    "model_type": "'{field}' must be a block of 'key: value' lines",
    "string_too_short": "'{field}' is too short",
    "string_too_long": "'{field}' is too long",
    "string_pattern_mismatch": "'{field}' has characters that are not allowed",
}


def problems_from_validation_error(
    doc: YamlDocument,
    error: ValidationError,
    *,
    base_loc: Loc = (),
    known_fields: Mapping[Loc, Sequence[str]] | None = None,
) -> list[Problem]:
    """Translate a pydantic error on (part of) ``doc`` into editor-friendly problems.

    ``base_loc`` is where the validated value sits inside the document (so an error at
    ``('steps', 3, 'next')`` inside a dialog validated from ``()`` maps to its line).
    """
    problems: list[Problem] = []
    seen: set[tuple[Loc, str]] = set()
    for err in error.errors(include_url=False):
        loc: Loc = base_loc + _real_loc(_descend(doc.data, base_loc), tuple(err["loc"]))
        field_name = next((str(p) for p in reversed(loc) if isinstance(p, str)), "value")
        if err["type"] == "union_tag_invalid":
            ctx = err.get("ctx", {})
            field_name = str(ctx.get("discriminator", "kind")).strip("'\"")
            loc = (*loc, field_name)
            expected = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",")]
            tag = str(ctx.get("tag", ""))
            problems.append(
                doc.problem(
                    loc,
                    f"'{field_name}' cannot be '{tag}'; it must be one of: {', '.join(expected)}",
                    hint=suggest(tag, expected),
                )
            )
            continue
        template = _PYDANTIC_MESSAGES.get(err["type"])
        if template:
            message = template.format(field=field_name)
            if err["type"] in {"string_pattern_mismatch", "string_too_long", "string_too_short"}:
                message += f": {err['msg'].lower()}"
        elif loc and isinstance(loc[-1], int) and isinstance(_descend(doc.data, loc), dict):
            message = _clean_msg(err["msg"])  # about a whole block in a list, e.g. a step
        else:
            message = f"'{field_name}': {_clean_msg(err['msg'])}"
        hint = None
        if err["type"] == "extra_forbidden" and known_fields is not None:
            candidates = known_fields.get(loc[:-1], ())
            close = difflib.get_close_matches(field_name, list(candidates), n=1)
            if close:
                hint = f"did you mean '{close[0]}'?"
            elif candidates:
                hint = "known fields: " + ", ".join(sorted(candidates))
        key = (loc, message)
        if key in seen:
            continue
        seen.add(key)
        problems.append(doc.problem(loc, message, hint=hint))
    return problems


def _child(data: Any, part: str | int) -> tuple[bool, Any]:
    """(found, value) of ``data[part]`` for a YAML mapping or list."""
    if isinstance(data, dict) and part in data:
        return True, data[part]
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return True, data[part]
    return False, None


def _descend(data: Any, loc: Loc) -> Any:
    for part in loc:
        found, data = _child(data, part)
        if not found:
            return None
    return data


def _real_loc(data: Any, loc: Loc) -> Loc:
    """Drop the parts pydantic adds for unions (tags, model names) that are not in the file."""
    real: list[str | int] = []
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        found, child = _child(data, part)
        if found:
            data = child
            real.append(part)
        elif isinstance(part, str) and not last:
            continue  # a union tag such as 'choice' or 'function-after[...]'
        elif isinstance(part, str) and isinstance(data, dict) and data.get("kind") == part:
            continue  # the tag of a whole step that failed its own check
        else:
            real.append(part)
            data = None
    return tuple(real)


def _clean_msg(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg[:1].lower() + msg[1:]


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """'did you mean …?' for a misspelt id, or None."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
