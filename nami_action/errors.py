"""Errors a user can cause. The CLI prints them as one clear message, never a traceback."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Characters that must never reach a terminal or a CI log raw: C0/C1 controls (a newline
# followed by `::error` would forge a GitHub workflow command, ESC sequences rewrite the
# terminal), Unicode line/paragraph separators and bidirectional overrides.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# GitHub reads a line as a workflow command when, after leading blanks, it starts with `::`
# (or the older `##[`). https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions
_COMMAND_LIKE = re.compile(r"^\s*(::|##\[)")


def printable(text: str) -> str:
    """`text` on one line, every control character shown as an escape (`\\n`, `\\x1b`)."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """A message of several lines made safe to print: each line `printable`, and a line that
    would read as a workflow command is quoted with `> `."""
    lines = [printable(line) for line in text.split("\n")]
    return "\n".join(f"> {line}" if _COMMAND_LIKE.match(line) else line for line in lines)


class NamiError(Exception):
    """A failure with a message meant for the person running nami."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem in a config file; its text is printable whatever it quotes."""

    file: str
    line: int
    column: int
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "file", printable(self.file))
        object.__setattr__(self, "message", printable(self.message))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


class ConfigError(NamiError):
    """The config cannot be used; carries every problem found, in file order, each once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))
