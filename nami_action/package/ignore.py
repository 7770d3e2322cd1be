"""`.namiignore`: gitignore-like rules that keep files out of the consumer zip.

Written by hand instead of using a library: `pathspec` happens to be in the dev venv, but only
as a dependency of mypy, not of nami, and `fnmatch` alone is wrong for paths (its `*` crosses
`/`). The subset below is small, fully tested, and behaves like `.gitignore` for what people
put in such files:

- one pattern per line; blank lines and lines starting with `#` are ignored
  (`\\#` and `\\!` escape a leading `#` or `!`); trailing spaces are dropped;
- `!pattern` re-includes what an earlier pattern excluded (the last matching line wins),
  except inside a directory that is itself excluded: an excluded directory is never entered;
- `pattern/` matches directories only;
- a pattern with a `/` at the start or in the middle is anchored at the code folder,
  otherwise it matches the name at any depth;
- `*` and `?` never match `/`, `[abc]` / `[!abc]` / `[a-z]` are character classes, `**/`
  matches any number of directories, a trailing `/**` everything inside.

Matching is linear in the path's length for a given pattern: a pattern is a list of steps run
as a set of live positions over the path (an NFA, O(path x pattern)), never by backtracking.
Python's `re` backtracks, so `*a*a*a*a*a*a*a*a*a*a*a*b` translated to a regex takes time
exponential in the number of stars on a long name of `a`s; here it is one pass.

A file that is not UTF-8, or a pattern nami cannot read (an unclosed `[`, a reversed range
`[z-a]`, a trailing lone `\\`, a NUL byte, a bare `!`), is a ConfigError at its file:line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from nami_action.config.code import printable
from nami_action.errors import ConfigError, Problem
from nami_action.package.reading import decode_text, read_folder_file

IGNORE_FILE = ".namiignore"
MAX_IGNORE_BYTES = 1024 * 1024


class _Wild(Enum):
    """The wildcard steps of a compiled pattern (a literal step is its one character)."""

    ONE = "?"  # any one character but `/`
    STAR = "*"  # any run of characters without `/`
    DIRS = "**/"  # zero or more whole directories (a run ending in `/`, or nothing)
    ALL = "/**"  # anything at all (a trailing `/**` or a lone `**`)


_ONE, _STAR, _DIRS, _ALL = _Wild.ONE, _Wild.STAR, _Wild.DIRS, _Wild.ALL
_RUNS = (_STAR, _DIRS, _ALL)  # steps that may read nothing, or go on reading


@dataclass(frozen=True)
class _Class:
    """`[...]`: single characters and inclusive ranges; never matches `/`."""

    ranges: tuple[tuple[str, str], ...]
    negated: bool

    def accepts(self, char: str) -> bool:
        if char == "/":
            return False
        inside = any(low <= char <= high for low, high in self.ranges)
        return inside != self.negated


_Step = str | _Wild | _Class


class PatternError(ValueError):
    """A `.namiignore` line nami cannot read; the message says why."""


@dataclass(frozen=True)
class IgnoreRule:
    text: str
    steps: tuple[_Step, ...]
    negate: bool
    dir_only: bool
    line: int = 0

    def matches(self, rel_path: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        return _run(self.steps, rel_path)


@dataclass(frozen=True)
class IgnoreRules:
    rules: tuple[IgnoreRule, ...] = field(default=())

    def ignored(self, rel_path: str, is_dir: bool) -> bool:
        """True when `rel_path` (posix, relative to the code folder) is excluded."""
        result = False
        for rule in self.rules:
            if rule.matches(rel_path, is_dir):
                result = not rule.negate
        return result


def read_ignore_file(path: Path, display: str | None = None) -> IgnoreRules:
    """Parse a `.namiignore` (none: no rules); unreadable bytes or patterns are a ConfigError
    at file:line, a symbolic link or special file one at the file (see `reading`)."""
    name = display or str(path)
    raw = read_folder_file(path, MAX_IGNORE_BYTES, name)
    if raw is None:
        return IgnoreRules()
    text = decode_text(raw, name, IGNORE_FILE)
    try:
        return parse_ignore(text.split("\n"))  # only \n ends a line, as in git and editors
    except PatternError as exc:
        line_number = int(exc.args[1])
        raise ConfigError([Problem(name, line_number, 1, str(exc.args[0]))]) from None


def parse_ignore(lines: Iterable[str]) -> IgnoreRules:
    """Rules from the lines of a `.namiignore`; PatternError(message, line) for a bad one."""
    rules: list[IgnoreRule] = []
    for number, raw in enumerate(lines, start=1):
        try:
            rule = _parse_line(raw.rstrip("\r\n"), number)
        except PatternError as exc:
            raise PatternError(
                f"pattern `{printable(raw.strip(), limit=80)}`: {exc}", number
            ) from None
        if rule is not None:
            rules.append(rule)
    return IgnoreRules(tuple(rules))


def _parse_line(raw: str, number: int) -> IgnoreRule | None:
    if "\0" in raw:
        raise PatternError("contains a NUL byte")
    line = _strip_trailing_spaces(raw)
    if not line or line.startswith("#"):
        return None
    negate = line.startswith("!")
    if negate or line.startswith(("\\#", "\\!")):
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        if negate:
            raise PatternError("`!` needs a pattern after it")
        return None
    anchored = "/" in line
    steps = _compile(line.lstrip("/"))
    if not anchored:
        steps = (_DIRS, *steps)
    return IgnoreRule(raw.strip(), steps, negate, dir_only, number)


def _strip_trailing_spaces(line: str) -> str:
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        return stripped + " "  # "foo\ " keeps one escaped space, as in git
    return stripped


def _compile(pattern: str) -> tuple[_Step, ...]:
    """Glob -> steps where wildcards stop at `/`, and `**` spans directories."""
    steps: list[_Step] = []
    i, n = 0, len(pattern)
    while i < n:
        at_segment_start = i == 0 or pattern[i - 1] == "/"
        if pattern.startswith("**/", i) and at_segment_start:
            steps.append(_DIRS)
            i += 3
        elif pattern.startswith("**", i) and i + 2 == n and at_segment_start:
            steps.append(_ALL)
            i += 2
        elif pattern[i] == "*":
            while i < n and pattern[i] == "*":  # any other `**` is a plain `*`, as in git
                i += 1
            if not steps or steps[-1] != _STAR:
                steps.append(_STAR)
        elif pattern[i] == "?":
            steps.append(_ONE)
            i += 1
        elif pattern[i] == "[":
            step, i = _compile_class(pattern, i)
            steps.append(step)
        elif pattern[i] == "\\":
            if i + 1 == n:
                raise PatternError("ends with a lone `\\` (write `\\\\` for a backslash)")
            steps.append(pattern[i + 1])
            i += 2
        else:
            steps.append(pattern[i])
            i += 1
    return tuple(steps)


def _compile_class(pattern: str, start: int) -> tuple[_Class, int]:
    """The class opened at `start` and the index after its `]`."""
    i = start + 1
    negated = i < len(pattern) and pattern[i] in "!^"
    if negated:
        i += 1
    members: list[str] = []
    while i < len(pattern) and (pattern[i] != "]" or not members):
        # a `]` right after `[` or `[!` is a literal member; `\x` is x
        if pattern[i] == "\\" and i + 1 < len(pattern):
            i += 1
        members.append(pattern[i])
        i += 1
    if i >= len(pattern):
        raise PatternError("`[` is never closed (write `\\[` for a literal bracket)")
    return _Class(_ranges(pattern[start : i + 1], members), negated), i + 1


def _ranges(text: str, members: list[str]) -> tuple[tuple[str, str], ...]:
    ranges: list[tuple[str, str]] = []
    j = 0
    while j < len(members):
        if j + 2 < len(members) and members[j + 1] == "-":
            low, high = members[j], members[j + 2]
            if low > high:
                raise PatternError(f"`{text}` has a reversed range `{low}-{high}`")
            ranges.append((low, high))
            j += 3
        else:
            ranges.append((members[j], members[j]))
            j += 1
    return tuple(ranges)


def _run(steps: tuple[_Step, ...], path: str) -> bool:
    """Does the whole of `path` match? One pass over `path` with the set of live steps.

    A live step is its index; `-1 - i` is "inside the directories of the `**/` at i", a run
    that may only end just after a `/` (while `*` and a trailing `/**` may end anywhere).
    """
    live = _closure(steps, {0})
    for char in path:
        following: set[int] = set()
        for index in live:
            if index == len(steps):
                continue  # the pattern is done but the path is not
            if index < 0 or steps[index] is _DIRS:
                at = index if index >= 0 else -1 - index
                following.add(-1 - at)
                if char == "/":
                    following.add(at + 1)  # a whole directory ends here
            elif _reads(steps[index], char):
                following.add(index if steps[index] in _RUNS else index + 1)
        if not following:
            return False
        live = _closure(steps, following)
    return len(steps) in live


def _reads(step: _Step, char: str) -> bool:
    """Can `step` (not `**/`) read `char`?"""
    if step is _ALL:
        return True
    if step is _STAR or step is _ONE:
        return char != "/"
    if isinstance(step, _Class):
        return step.accepts(char)
    return step == char


def _closure(steps: tuple[_Step, ...], live: set[int]) -> set[int]:
    """Add the steps reachable without reading a character (the runs that may be empty)."""
    result = set(live)
    pending = [index for index in live if index >= 0]
    while pending:
        index = pending.pop()
        if index < len(steps) and steps[index] in _RUNS and index + 1 not in result:
            result.add(index + 1)
            pending.append(index + 1)
    return result
