"""Errors a user can cause. The CLI prints them as one clear message, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass


class NamiError(Exception):
    """A failure with a message meant for the person running nami."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem in a config file."""

    file: str
    line: int
    column: int
    message: str

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
    """The config cannot be used; carries every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
