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

Matching never backtracks across a wildcard. Each pattern becomes one regular expression in
which every `*` (and every `**/`) that is followed by more pattern is an atomic group taking
the leftmost match: exact for globs (what follows can always take up the rest), and the engine
can never come back to try another split, so `*a*a*a*a*a*a*a*b` on a long name of `a`s is one
pass, not exponential. The patterns of a run of lines with the same sign (`!` or not) are one
alternation, tried from the last run back: the first run that matches decides. Bounds: a
`.namiignore` holds at most MAX_IGNORE_PATTERNS distinct patterns (a repeated line counts
once: only its last occurrence can decide) of at most MAX_PATTERN_CHARS characters; one path
against one pattern costs at most segments x path length x pattern length steps, in C.

A file that is not UTF-8, or a pattern nami cannot read (an unclosed `[`, a reversed range
`[z-a]`, a trailing lone `\\`, a NUL byte, a bare `!`), is a ConfigError at its file:line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from nami_action.config.code import printable
from nami_action.errors import ConfigError, Problem
from nami_action.package.reading import decode_text, read_folder_file

IGNORE_FILE = ".namiignore"
MAX_IGNORE_BYTES = 1024 * 1024
MAX_IGNORE_PATTERNS = 1000
MAX_PATTERN_CHARS = 4096  # a path is at most 4,096 bytes: a longer pattern cannot match one


class _Wild(Enum):
    """The wildcard steps of a compiled pattern (a literal step is its one character)."""

    ONE = "?"  # any one character but `/`
    STAR = "*"  # any run of characters without `/`
    DIRS = "**/"  # zero or more whole directories (a run ending in `/`, or nothing)
    ALL = "/**"  # anything at all (a trailing `/**` or a lone `**`)


_ONE, _STAR, _DIRS, _ALL = _Wild.ONE, _Wild.STAR, _Wild.DIRS, _Wild.ALL


@dataclass(frozen=True)
class _Class:
    """`[...]`: single characters and inclusive ranges; never matches `/`."""

    ranges: tuple[tuple[str, str], ...]
    negated: bool


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

    @property
    def key(self) -> tuple[tuple[_Step, ...], bool, bool]:
        """What the rule does: two lines with the same key match the same paths."""
        return self.steps, self.negate, self.dir_only

    def matches(self, rel_path: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        return _compiled([self]).fullmatch(rel_path) is not None


@dataclass(frozen=True)
class _Run:
    """Consecutive rules of one sign, as one expression for files and one for folders."""

    negate: bool
    files: re.Pattern[str] | None
    folders: re.Pattern[str]


@dataclass(frozen=True)
class IgnoreRules:
    rules: tuple[IgnoreRule, ...] = field(default=())
    _runs: tuple[_Run, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        runs = []
        for negate, group in itertools.groupby(self.rules, key=lambda rule: rule.negate):
            rules = list(group)
            files = [rule for rule in rules if not rule.dir_only]
            runs.append(_Run(negate, _compiled(files) if files else None, _compiled(rules)))
        object.__setattr__(self, "_runs", tuple(runs))

    def ignored(self, rel_path: str, is_dir: bool) -> bool:
        """True when `rel_path` (posix, relative to the code folder) is excluded: the last
        rule that matches decides."""
        for run in reversed(self._runs):
            pattern = run.folders if is_dir else run.files
            if pattern is not None and pattern.fullmatch(rel_path):
                return not run.negate
        return False


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
    """Rules from the lines of a `.namiignore`; PatternError(message, line) for a bad one.

    A line repeating an earlier one replaces it (only the last of equal rules can decide)."""
    rules: dict[tuple[tuple[_Step, ...], bool, bool], tuple[IgnoreRule, int]] = {}
    parsed: dict[str, IgnoreRule | None] = {}  # a repeated line is read once
    for number, raw in enumerate(lines, start=1):
        if raw in parsed:
            rule = parsed[raw]
        else:
            try:
                rule = parsed[raw] = _parse_line(raw.rstrip("\r\n"), number)
            except PatternError as exc:
                raise PatternError(
                    f"pattern `{printable(raw.strip(), limit=80)}`: {exc}", number
                ) from None
        if rule is None:
            continue
        rules.pop(rule.key, None)
        rules[rule.key] = (rule, number)
        if len(rules) > MAX_IGNORE_PATTERNS:
            raise PatternError(
                f"{IGNORE_FILE} holds more than {MAX_IGNORE_PATTERNS:,} different patterns; "
                "match folders (`build/`) or wider names (`*.log`) instead of listing files",
                number,
            )
    return IgnoreRules(
        tuple(
            rule if rule.line == line else replace(rule, line=line) for rule, line in rules.values()
        )
    )


def _parse_line(raw: str, number: int) -> IgnoreRule | None:
    if "\0" in raw:
        raise PatternError("contains a NUL byte")
    if len(raw) > MAX_PATTERN_CHARS:
        raise PatternError(
            f"is {len(raw):,} characters long; a pattern is at most {MAX_PATTERN_CHARS:,} "
            "(the longest path)"
        )
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


def _compiled(rules: list[IgnoreRule]) -> re.Pattern[str]:
    """One expression matching what any of `rules` matches (fullmatch: the whole path)."""
    return re.compile("|".join(_regex(rule.steps) for rule in rules), re.DOTALL)


def _regex(steps: tuple[_Step, ...]) -> str:
    """A pattern's steps as a regular expression that cannot backtrack across a wildcard.

    The steps are parts separated by `**/` (and a final `/**`); each part is whole segments
    (it ends with `/`) unless it ends the pattern. A `**/` before a part takes the fewest
    directories after which the part matches, atomically: what follows it (another `**/` or
    `/**`) can take any directories the part leaves. The last part alone may backtrack, over
    where the path's final segments start."""
    parts: list[tuple[bool, list[_Step]]] = []
    after_dirs, part = False, list[_Step]()
    for step in steps:
        if step is _DIRS or step is _ALL:
            parts.append((after_dirs, part))
            after_dirs, part = step is _DIRS, []
        else:
            part.append(step)
    ends_with_all = bool(steps) and steps[-1] is _ALL
    if not ends_with_all:
        parts.append((after_dirs, part))
    out = []
    for index, (dirs, part) in enumerate(parts):
        last = index == len(parts) - 1 and not ends_with_all
        body = _segments(part, last)
        if dirs:
            body = f"(?:[^/]*/)*{body}" if last else f"(?>(?:[^/]*/)*?{body})"
        out.append(body)
    if ends_with_all:
        out.append(".*")
    return "".join(out)


def _segments(part: list[_Step], last: bool) -> str:
    """Steps without `**`: fixed runs between `*`s. A `*` followed by more takes the leftmost
    place where the next fixed run matches, atomically (a later `*` can take up the rest; a
    run ending in `/` has one place only). Only the final `*` of the pattern backtracks."""
    runs: list[list[_Step]] = [[]]
    for step in part:
        if step is _STAR:
            runs.append([])
        else:
            runs[-1].append(step)
    out = [_fixed(runs[0])]
    for index, run in enumerate(runs[1:], start=1):
        if last and index == len(runs) - 1:
            out.append(f"[^/]*{_fixed(run)}")
        else:
            out.append(f"(?>[^/]*?{_fixed(run)})")
    return "".join(out)


def _fixed(steps: list[_Step]) -> str:
    return "".join(_one(step) for step in steps)


def _one(step: _Step) -> str:
    if isinstance(step, str):
        return re.escape(step)
    if isinstance(step, _Class):
        members = "".join(f"{re.escape(low)}-{re.escape(high)}" for low, high in step.ranges)
        return f"[^/{members}]" if step.negated else f"(?!/)[{members}]"
    return "[^/]"  # `?`: `*`, `**/` and `/**` are placed by _segments and _regex
