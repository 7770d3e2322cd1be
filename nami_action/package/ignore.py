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
- `*` and `?` never match `/`, `[abc]` / `[!abc]` are character classes, `**/` matches any
  number of directories, a trailing `/**` everything inside.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

IGNORE_FILE = ".namiignore"


@dataclass(frozen=True)
class IgnoreRule:
    text: str
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool

    def matches(self, rel_path: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        return self.regex.fullmatch(rel_path) is not None


@dataclass(frozen=True)
class IgnoreRules:
    rules: tuple[IgnoreRule, ...] = ()

    def ignored(self, rel_path: str, is_dir: bool) -> bool:
        """True when `rel_path` (posix, relative to the code folder) is excluded."""
        result = False
        for rule in self.rules:
            if rule.matches(rel_path, is_dir):
                result = not rule.negate
        return result


def parse_ignore(lines: Iterable[str]) -> IgnoreRules:
    rules: list[IgnoreRule] = []
    for raw in lines:
        line = _strip_trailing_spaces(raw.rstrip("\r\n"))
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate or line.startswith(("\\#", "\\!")):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = _translate(line)
        regex = re.compile(body if anchored else f"(?:.*/)?{body}", re.DOTALL)
        rules.append(IgnoreRule(text=raw.strip(), regex=regex, negate=negate, dir_only=dir_only))
    return IgnoreRules(tuple(rules))


def _strip_trailing_spaces(line: str) -> str:
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        return stripped + " "  # "foo\ " keeps one escaped space, as in git
    return stripped


def _translate(pattern: str) -> str:
    """Glob -> regex body where wildcards stop at `/`, and `**` spans directories."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i) and i + 2 == n and (i == 0 or pattern[i - 1] == "/"):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            while i < n and pattern[i] == "*":  # any other `**` is a plain `*`, as in git
                i += 1
            out.append("[^/]*")
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = _class_end(pattern, i)
            if end < 0:
                out.append(re.escape("["))
                i += 1
            else:
                inner = pattern[i + 1 : end]
                negated = inner.startswith(("!", "^"))
                if negated:
                    inner = inner[1:]
                inner = "".join("\\" + c if c in "\\[]^&~|" else c for c in inner if c != "/")
                out.append(f"[^/{inner}]" if negated else f"[{inner}]")
                i = end + 1
        elif pattern[i] == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    """Index of the `]` closing the class opened at `start`, or -1 if it is not a class."""
    j = start + 1
    if j < len(pattern) and pattern[j] in "!^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1  # a `]` right after `[` or `[!` is a literal member
    while j < len(pattern) and pattern[j] != "]":
        j += 1
    return j if j < len(pattern) else -1
