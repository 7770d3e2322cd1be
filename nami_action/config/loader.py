"""Read nami.yaml into plain data, remembering the line and column of every key and value.

ruamel.yaml composes the document into nodes that carry their marks; we walk the nodes
once, turning them into plain dicts/lists/scalars (what pydantic and jsonschema expect) and
a table of positions keyed by the path to each node. The walk also bounds the document:
aliases and merge keys (`<<`) are expanded while walking, so one node budget stops alias and
merge bombs and self-referencing anchors, and duplicate keys are caught at the second
occurrence. The file itself is read only if it is a regular file, and at most 1 MiB of it.
"""

from __future__ import annotations

import datetime
import os
import re
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.scanner import Scanner

from nami_action.errors import ConfigError, Problem
from nami_action.files import OPEN_FLAGS, file_kind, read_at_most

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64
# Levels the C composer recurses through without risk (it crashed near 27,600).
COMPOSER_SAFE_DEPTH = 1_000

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
    # What the loader found but could still read past (duplicate or non-string keys, bad
    # merge keys): reported together with the schema's findings, not instead of them.
    problems: list[Problem] = field(default_factory=list)

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
    if walker.budget_exceeded:
        raise ConfigError(walker.problems)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__} value"
        top = Problem(name, 1, 1, f"the top level must be a mapping, not {kind}")
        raise ConfigError([*walker.problems, top])
    return Document(name, data, walker.positions, walker.problems)


def _fail(file: str, message: str, line: int = 1, column: int = 1) -> ConfigError:
    return ConfigError([Problem(file, line, column, message)])


def _read_text(path: Path, name: str) -> str:
    raw = _read_bytes(path, name)
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


def _read_bytes(path: Path, name: str) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes of a regular file, whatever the path names.

    The file is opened without blocking (a FIFO with no writer would wait forever) and checked
    with fstat after opening, so a path swapped between a check and the open cannot slip
    through; the read is bounded whatever stat said (a file may grow, /proc files say 0)."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except FileNotFoundError:
        raise _fail(name, "file not found") from None
    except OSError as exc:
        raise _fail(name, f"cannot read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _fail(name, "is a directory, not a nami.yaml file")
        if not stat.S_ISREG(info.st_mode):
            raise _fail(name, f"is {file_kind(info.st_mode)}, not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise _fail(name, f"file is {info.st_size:,} bytes; {_LIMIT_TEXT}")
        raw = read_at_most(fd, MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _fail(name, f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_FILE_BYTES:
        raise _fail(name, f"file is more than {MAX_FILE_BYTES:,} bytes; {_LIMIT_TEXT}")
    return raw


_LIMIT_TEXT = "nami.yaml is limited to 1 MiB"


def _parse(text: str, name: str) -> tuple[Node, SafeConstructor]:
    _check_directives(text, name)
    _check_depth(text, name)
    # With ruamel.yaml.clib the C parser composes nodes with marks about 8x faster than the
    # round-trip loader; marks are all we need (no comments), so we compose and walk nodes.
    # libyaml is stricter than YAML 1.2 in places (`{secret: ssm:/x}` in flow style), so a
    # document it refuses is parsed again by ruamel's pure-Python 1.2 parser, which decides.
    try:
        return _compose(text, name, pure=False)
    except _NestedTooDeeply:
        raise
    except ConfigError:
        return _compose(text, name, pure=True)


class _NestedTooDeeply(ConfigError):
    """The parser itself ran out of stack: the other parser would too."""


# `%YAML 1.x` at the start of a line, before the document (YAML 1.2, 6.8.1).
_YAML_DIRECTIVE = re.compile(r"%YAML[ \t]+(\S*)")
YAML_VERSIONS = ("1.1", "1.2")


def _check_directives(text: str, name: str) -> None:
    """A `%YAML` version ruamel cannot read (1.0, 1.3...) fails an assertion inside the
    parser: refuse it here, at its line."""
    if "%YAML" not in text:
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(("---", "...")):
            return  # directives come before the document only
        match = _YAML_DIRECTIVE.match(line)
        if match and match.group(1) not in YAML_VERSIONS:
            version = match.group(1)[:20]
            raise _fail(
                name,
                f"`%YAML {version}`: nami.yaml is YAML 1.2; write `%YAML 1.2` or no directive",
                number,
            )


def _check_depth(text: str, name: str) -> None:
    """Nesting past MAX_DEPTH, found by the C parser's events before anything composes them.

    The composers recurse once per level: the C one overflows the process stack (SIGSEGV,
    near 27,600 levels of `[` or of `- - - ...`) before Python's recursion limit could
    speak, and the walker would refuse the depth anyway. The parser itself keeps its stack on
    the heap, so reading its events is safe at any depth. A file whose nesting cannot reach
    COMPOSER_SAFE_DEPTH skips this pass (the walker then reports the depth)."""
    if _depth_at_most(text) <= COMPOSER_SAFE_DEPTH:
        return
    depth = 0
    try:
        for event in YAML(typ="safe", pure=False).parse(text):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH + 1:  # the top-level mapping is not a level of a path
                    line, column = _mark(event)
                    raise _NestedTooDeeply(
                        [Problem(name, line, column, f"document nested too deeply ({_BOUNDS})")]
                    )
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLError:
        return  # the composers stop at the same error, no deeper than here; they report it


def _compose(text: str, name: str, *, pure: bool) -> tuple[Node, SafeConstructor]:
    yaml = YAML(typ="safe", pure=pure)
    if pure:
        yaml.Scanner = _TabSeparatingScanner
    try:
        with warnings.catch_warnings():
            # ruamel warns (ReusedAnchorWarning...) with its own file path and no location.
            # An anchor defined again is legal YAML (an alias names the latest definition).
            warnings.simplefilter("ignore")
            documents = list(yaml.compose_all(text))
    except MarkedYAMLError as exc:
        raise _syntax_error(text, name, exc) from None
    except RecursionError:
        message = f"document nested too deeply for the YAML parser (nami allows {MAX_DEPTH} levels)"
        raise _NestedTooDeeply([Problem(name, 1, 1, message)]) from None
    except (YAMLError, ValueError, TypeError) as exc:
        raise _fail(name, f"YAML error: {exc}") from None
    documents = [d for d in documents if d is not None]
    if not documents:
        raise _fail(name, "file is empty: start with `version: 1`")
    if len(documents) > 1:
        raise _fail(name, "file holds several YAML documents (`---`); nami.yaml is one document")
    return documents[0], yaml.constructor


# `-` or `?` followed by a blank: a block sequence entry or an explicit key (over-counted
# inside scalars, which only makes the bound looser).
_BLOCK_INDICATOR = re.compile(r"[-?](?=[ \t\r\n]|\Z)")


def _depth_at_most(text: str) -> int:
    """An upper bound of the nesting, cheap to count: a collection opens with `[`, `{`, `-`
    or `?` (each of which may also open a one-pair mapping inside it), or is a block mapping
    directly inside another, which must be indented further."""
    openers = text.count("[") + text.count("{") + len(_BLOCK_INDICATOR.findall(text))
    indent = max((len(line) - len(line.lstrip(" ")) for line in text.split("\n")), default=0)
    return 2 * openers + indent + 2


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


class _TabSeparatingScanner(Scanner):
    """YAML 1.2 allows tabs as separation inside a line (`version:<TAB>1`), only not as
    indentation. ruamel's pure-Python scanner refuses them outside flow style (a TODO in its
    source); libyaml, which the C parser uses, skips a tab wherever a simple key cannot start
    (after `:`, after a scalar) or inside flow style. This is libyaml's rule."""

    def scan_to_next_token(self) -> None:
        peek, forward = self.reader.peek, self.reader.forward
        if self.reader.index == 0 and peek() == "\ufeff":
            forward()
        while True:
            while peek() == " " or (
                peek() == "\t" and (self.flow_level or not self.allow_simple_key)
            ):
                forward()
            if peek() == "#":
                while peek() not in "\0\r\n\x85\u2028\u2029":
                    forward()
            if not self.scan_line_break():
                return
            if not self.flow_level:
                self.allow_simple_key = True


class _Walker:
    """Converts composed nodes to plain data, recording positions and enforcing bounds.

    Aliases and merge keys (`<<`) re-walk nodes that were written once, so every node walked,
    and every mapping merged, counts against one budget: a short file cannot expand into
    billions of nodes, whichever of the two it uses."""

    def __init__(self, file: str, constructor: SafeConstructor) -> None:
        self.file = file
        self.positions: dict[PathKey, Position] = {}
        self.problems: list[Problem] = []
        self.nodes = 0
        self.budget_exceeded = False
        self._constructor = constructor
        self._open: list[MappingNode] = []  # mappings being converted, outermost first
        self._reported: set[Problem] = set()

    def convert(self, node: Node, path: PathKey) -> Any:
        if not self._spend(path):
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self._item(item, index, path) for index, item in enumerate(node.value)]
        return self._scalar(node)

    def _spend(self, path: PathKey, nodes: int = 1, depth: int = 0) -> bool:
        """Count `nodes` more against the budget; False (reported once) when it is spent or
        the nesting (`depth` levels of merges below `path`) is too deep."""
        self.nodes += nodes
        too_deep = len(path) + depth > MAX_DEPTH
        if self.nodes > MAX_NODES or too_deep:
            self._exceeded(path, too_deep)
            return False
        return True

    def _exceeded(self, path: PathKey, too_deep: bool) -> None:
        if self.budget_exceeded:
            return
        self.budget_exceeded = True
        line, column = self._nearest(path)
        reason = "nested too deeply" if too_deep else "expands to too many nodes"
        self._report(
            line,
            column,
            f"document {reason} ({_BOUNDS}); check anchors, aliases (*name) and merge keys (<<) "
            "for self-reference or repeated expansion",
        )

    def _report(self, line: int, column: int, message: str) -> None:
        problem = Problem(self.file, line, column, message)
        if problem not in self._reported:  # a node reached through many aliases: say it once
            self._reported.add(problem)
            self.problems.append(problem)

    def _nearest(self, path: PathKey) -> tuple[int, int]:
        for end in range(len(path), 0, -1):
            pos = self.positions.get(tuple(path[:end]))
            if pos:
                return pos.key_line, pos.key_column
        return 1, 1

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[tuple[Node, Node]] = []
        self._open.append(node)
        try:
            for key_node, value_node in node.value:
                if key_node.tag == MERGE_TAG:
                    merges.append((key_node, value_node))
                    continue
                key = self._key(key_node, result)
                if key is not None:
                    result[key] = self._value(key_node, value_node, (*path, key))
            # YAML merge keys: keys written here win, then earlier sources over later ones.
            for key_node, value_node in self._merged_pairs(merges, path, []):
                key = self._merged_key(key_node)
                if key is not None and key not in result:
                    result[key] = self._value(key_node, value_node, (*path, key))
        finally:
            self._open.pop()
        return result

    def _value(self, key_node: Node, value_node: Node, child: PathKey) -> Any:
        key_mark = _mark(key_node)
        # An empty value (`key:` then nothing) has its mark where the next token starts,
        # often the next line: point at its key instead.
        empty = (
            isinstance(value_node, ScalarNode) and value_node.value == "" and not value_node.style
        )
        self.positions[child] = Position(*key_mark, *(key_mark if empty else _mark(value_node)))
        return self.convert(value_node, child)

    def _merged_pairs(
        self, merges: list[tuple[Node, Node]], path: PathKey, chain: list[MappingNode]
    ) -> list[tuple[Node, Node]]:
        """The key/value pairs that merge keys bring in, in precedence order."""
        pairs: list[tuple[Node, Node]] = []
        for merge_key, merge_value in merges:
            for source in self._merge_sources(merge_key, merge_value):
                if any(source is seen for seen in (*self._open, *chain)):
                    line, column = _mark(merge_key)
                    self._report(
                        line,
                        column,
                        "merge key `<<` merges a mapping into itself (its own anchor or one "
                        "that contains it); merge a separate mapping",
                    )
                    continue
                own = [pair for pair in source.value if pair[0].tag != MERGE_TAG]
                nested = [pair for pair in source.value if pair[0].tag == MERGE_TAG]
                if not self._spend(path, 1 + len(own), len(chain) + 1):
                    return pairs
                pairs.extend(own)
                pairs.extend(self._merged_pairs(nested, path, [*chain, source]))
        return pairs

    def _merge_sources(self, merge_key: Node, value: Node) -> list[MappingNode]:
        if isinstance(value, MappingNode):
            return [value]
        items = value.value if isinstance(value, SequenceNode) else [value]
        sources = [item for item in items if isinstance(item, MappingNode)]
        if len(sources) != len(items):  # `<<: []` merges nothing, as in PyYAML
            # An alias (`<<: *s`) is the anchored node itself, written earlier: point at `<<`.
            line, column = max(_mark(value), _mark(merge_key))
            self._report(
                line,
                column,
                "merge key `<<` takes a mapping or a list of mappings (`<<: *defaults`, "
                "`<<: [*a, *b]`), not " + _node_kind(value),
            )
        return sources

    def _merged_key(self, node: Node) -> str | None:
        """A merged-in key; a bad one is reported where it is written."""
        key = self._read_scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(key, str):
            return key
        if key is not _UNREADABLE:
            self._key(node, {})
        return None

    def _key(self, node: Node, seen: dict[str, Any]) -> str | None:
        line, column = _mark(node)
        key = self._read_scalar(node) if isinstance(node, ScalarNode) else None
        if key is _UNREADABLE:
            return None  # already reported where it is written
        if not isinstance(key, str):
            shown = key if isinstance(key, int | float | bool) else "(a collection)"
            self._report(line, column, f"key `{shown}` must be a string")
            return None
        if key in seen:
            self._report(line, column, f"duplicate key `{key}`: each key may appear once")
            return None
        return key

    def _item(self, node: Node, index: int, path: PathKey) -> Any:
        line, column = _mark(node)
        child = (*path, index)
        self.positions[child] = Position(line, column, line, column)
        return self.convert(node, child)

    def _scalar(self, node: Node) -> Any:
        value = self._read_scalar(node)
        return None if value is _UNREADABLE else value

    def _read_scalar(self, node: Node) -> Any:
        """The plain value, or _UNREADABLE (reported at the node)."""
        line, column = _mark(node)
        try:
            value = _plain(self._constructor.construct_object(node, deep=True))
        except (YAMLError, ValueError, TypeError, OverflowError):
            # The parser's reason quotes the value, which may be a secret: name the tag only.
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            self._report(line, column, f"cannot read this value as `{tag}`")
            return _UNREADABLE
        if isinstance(value, str) and _SURROGATE.search(value):
            value = _joined_pairs(value)
        if isinstance(value, str) and _SURROGATE.search(value):
            # `"\ud800"` decodes to half of a UTF-16 pair: no UTF-8 text can hold it, so every
            # later step (the schema, the template, a log line) would fail on it.
            self._report(line, column, _SURROGATE_MESSAGE)
            return _UNREADABLE
        return value


def _joined_pairs(value: str) -> str:
    """`"\ud83d\ude00"` as JSON writes 😀 (json.dumps escapes by default; JSON is YAML): a
    high and a low half next to each other are one character. Lone halves stay as they are."""
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


MERGE_TAG = "tag:yaml.org,2002:merge"
_UNREADABLE = object()  # a scalar the walker reported: no value, and no second message
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_MESSAGE = (
    "a `\\uD800`-`\\uDFFF` escape is half of a UTF-16 surrogate pair, not a character (YAML "
    "escapes are code points): write the character itself, or `\\U0001F600` for one above U+FFFF"
)
_BOUNDS = f"limit {MAX_NODES:,} nodes, depth {MAX_DEPTH}"


def _node_kind(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list holding other values"
    if isinstance(node, ScalarNode):
        return "null" if str(node.tag).endswith(":null") else f"the scalar `{node.value}`"
    return "this value"


def _mark(node: Node | CollectionStartEvent) -> tuple[int, int]:
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
