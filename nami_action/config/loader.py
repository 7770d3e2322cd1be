"""Read nami.yaml into plain data, remembering the line and column of every key and value.

ruamel.yaml composes the document into nodes that carry their marks; we walk the nodes
once, turning them into plain dicts/lists/scalars (what pydantic and jsonschema expect) and
a table of positions keyed by the path to each node. The walk also bounds the document:
aliases are expanded while walking, so a node budget stops alias bombs and self-referencing
anchors, and duplicate keys are caught at the second occurrence.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nami_action.errors import ConfigError, Problem

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """1-based line and column of a key (where there is one) and of its value."""

    key_line: int
    key_column: int
    value_line: int
    value_column: int


@dataclass
class Document:
    """A loaded config: plain data plus where each node came from."""

    file: str
    data: dict[str, Any]
    positions: dict[PathKey, Position] = field(default_factory=dict)

    def problem(self, path: PathKey, message: str, *, at_key: bool = False) -> Problem:
        """A Problem at the deepest node of `path` that exists in the file."""
        line, column = self.locate(path, at_key=at_key)
        return Problem(self.file, line, column, message)

    def locate(self, path: PathKey, *, at_key: bool = False) -> tuple[int, int]:
        for end in range(len(path), -1, -1):
            pos = self.positions.get(tuple(path[:end]))
            if pos is not None:
                exact = end == len(path)
                if at_key or not exact:
                    return pos.key_line, pos.key_column
                return pos.value_line, pos.value_column
        return 1, 1


def load_document(path: Path, display_name: str | None = None) -> Document:
    """Load and bound-check one config file; every failure is a located ConfigError."""
    name = display_name or str(path)
    text = _read_text(path, name)
    root, constructor = _parse(text, name)
    walker = _Walker(name, constructor)
    data = walker.convert(root, ())
    if isinstance(data, dict) and data:
        # A key missing at the top level is reported at the document's first key.
        walker.positions[()] = walker.positions.get((next(iter(data)),), Position(1, 1, 1, 1))
    if walker.problems:
        raise ConfigError(walker.problems)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__} value"
        raise ConfigError([Problem(name, 1, 1, f"the top level must be a mapping, not {kind}")])
    return Document(name, data, walker.positions)


def _fail(file: str, message: str, line: int = 1, column: int = 1) -> ConfigError:
    return ConfigError([Problem(file, line, column, message)])


def _read_text(path: Path, name: str) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _fail(name, "file not found") from None
    except OSError as exc:
        raise _fail(name, f"cannot read: {exc.strerror}") from None
    if path.is_dir():
        raise _fail(name, "is a directory, not a nami.yaml file")
    if size > MAX_FILE_BYTES:
        raise _fail(name, f"file is {size:,} bytes; nami.yaml is limited to 1 MiB")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _fail(name, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _fail(name, "file is not valid UTF-8", line) from None
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise _fail(name, "file is empty: start with `version: 1`")
    return text


def _parse(text: str, name: str) -> tuple[Node, SafeConstructor]:
    # With ruamel.yaml.clib the C parser composes nodes with marks about 8x faster than the
    # round-trip loader; marks are all we need (no comments), so we compose and walk nodes.
    # libyaml is stricter than YAML 1.2 in places (`{secret: ssm:/x}` in flow style), so a
    # document it refuses is parsed again by ruamel's pure-Python 1.2 parser, which decides.
    try:
        return _compose(text, name, pure=False)
    except ConfigError:
        return _compose(text, name, pure=True)


def _compose(text: str, name: str, *, pure: bool) -> tuple[Node, SafeConstructor]:
    yaml = YAML(typ="safe", pure=pure)
    try:
        documents = list(yaml.compose_all(text))
    except MarkedYAMLError as exc:
        raise _syntax_error(text, name, exc) from None
    except (YAMLError, RecursionError, ValueError, TypeError) as exc:
        raise _fail(name, f"YAML error: {exc}") from None
    documents = [d for d in documents if d is not None]
    if not documents:
        raise _fail(name, "file is empty: start with `version: 1`")
    if len(documents) > 1:
        raise _fail(name, "file holds several YAML documents (`---`); nami.yaml is one document")
    return documents[0], yaml.constructor


def _syntax_error(text: str, name: str, exc: MarkedYAMLError) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    source_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    indent = source_line[: len(source_line) - len(source_line.lstrip(" \t"))]
    if "\t" in indent or "'\\t'" in str(exc.problem):
        tab_column = source_line.find("\t") + 1 if "\t" in source_line else column
        return _fail(
            name, "tab character in indentation: YAML indents with spaces", line, tab_column
        )
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    return _fail(name, f"YAML syntax error: {problem}", line, column)


class _Walker:
    """Converts composed nodes to plain data, recording positions and enforcing bounds."""

    def __init__(self, file: str, constructor: SafeConstructor) -> None:
        self.file = file
        self.positions: dict[PathKey, Position] = {}
        self.problems: list[Problem] = []
        self.nodes = 0
        self._budget_exceeded = False
        self._constructor = constructor

    def convert(self, node: Node, path: PathKey) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or len(path) > MAX_DEPTH:
            self._exceeded(path)
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self._item(item, index, path) for index, item in enumerate(node.value)]
        return self._scalar(node)

    def _exceeded(self, path: PathKey) -> None:
        if self._budget_exceeded:
            return
        self._budget_exceeded = True
        line, column = self._nearest(path)
        reason = "nested too deeply" if len(path) > MAX_DEPTH else "expands to too many nodes"
        self.problems.append(
            Problem(
                self.file,
                line,
                column,
                f"document {reason} (limit {MAX_NODES:,} nodes, depth {MAX_DEPTH}); "
                "check anchors and aliases (*name) for self-reference or repeated expansion",
            )
        )

    def _nearest(self, path: PathKey) -> tuple[int, int]:
        for end in range(len(path), 0, -1):
            pos = self.positions.get(tuple(path[:end]))
            if pos:
                return pos.key_line, pos.key_column
        return 1, 1

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: list[MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged.extend(_merge_sources(value_node))
                continue
            key = self._key(key_node, result)
            if key is None:
                continue
            child = (*path, key)
            self.positions[child] = Position(*_mark(key_node), *_mark(value_node))
            result[key] = self.convert(value_node, child)
        for source in merged:  # YAML merge keys (<<): keys written here win
            for key, value in self._mapping(source, path).items():
                result.setdefault(key, value)
        return result

    def _key(self, node: Node, seen: dict[str, Any]) -> str | None:
        line, column = _mark(node)
        key = self._scalar(node) if isinstance(node, ScalarNode) else None
        if not isinstance(key, str):
            shown = key if isinstance(key, int | float | bool) else "(a collection)"
            self.problems.append(
                Problem(self.file, line, column, f"key `{shown}` must be a string")
            )
            return None
        if key in seen:
            message = f"duplicate key `{key}`: each key may appear once"
            self.problems.append(Problem(self.file, line, column, message))
            return None
        return key

    def _item(self, node: Node, index: int, path: PathKey) -> Any:
        line, column = _mark(node)
        child = (*path, index)
        self.positions[child] = Position(line, column, line, column)
        return self.convert(node, child)

    def _scalar(self, node: Node) -> Any:
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (YAMLError, ValueError, TypeError, OverflowError) as exc:
            line, column = _mark(node)
            self.problems.append(Problem(self.file, line, column, f"cannot read value: {exc}"))
            return None
        return _plain(value)


MERGE_TAG = "tag:yaml.org,2002:merge"


def _merge_sources(node: Node) -> list[MappingNode]:
    if isinstance(node, MappingNode):
        return [node]
    if isinstance(node, SequenceNode):
        return [item for item in node.value if isinstance(item, MappingNode)]
    return []


def _mark(node: Node) -> tuple[int, int]:
    mark = node.start_mark
    if mark is None:
        return 1, 1
    return int(mark.line) + 1, int(mark.column) + 1


def _plain(value: Any) -> Any:
    """JSON-like scalars: timestamps and binary become text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
