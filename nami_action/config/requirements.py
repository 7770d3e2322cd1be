"""A consumer's `requirements.txt` lists dependencies by name, nothing else.

pip reads a requirements file as a small program: `${VAR}` expands the environment
(`--index-url https://x/${AWS_SECRET_ACCESS_KEY}/` sends a secret anywhere), `-r`/`-c` read any
file (`-r /proc/self/environ` prints the environment in pip's error), `--index-url`,
`--find-links` and friends pick where code comes from, and a local path, a VCS or a URL
requirement is *built*, which runs the build backend it names (`../tools/evil` with
`backend-path = ["."]` runs that folder's code even under `--only-binary=:all:`). So every
logical line must be a PEP 508 requirement by name (`name[extras] <specifiers> ; <marker>`),
optionally followed by `--hash=<algorithm>:<hex>` options, or blank, or a comment. Anything
else is a located problem at validate time; the package step checks again before pip runs.
(https://pip.pypa.io/en/stable/reference/requirements-file-format/)

Messages name the line and the kind of thing found, never the line's text: a requirements
file is the repository author's, but what an include or a variable would pull in is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REQUIREMENTS_FILE = "requirements.txt"
MAX_BYTES = 1024 * 1024  # a list of dependencies; anything bigger is not one

# Matched against the line with each run of whitespace made one space, by patterns in which
# every optional part starts with a character the one before cannot match: linear time on any
# line (a pattern with adjacent `\s*` backtracks polynomially on a long run of blanks).
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_EXTRAS = rf"\[ ?(?:{_NAME}(?: ?, ?{_NAME})*)? ?\]"
_SPEC = r"(?:===|==|!=|~=|<=|>=|<|>) ?[A-Za-z0-9.*+!_-]+"
_SPECS = rf"{_SPEC}(?: ?, ?{_SPEC})*"
# PEP 508 environment markers: a known variable or a quoted string on each side of an
# operator, joined by and/or (parentheses not balanced here: pip refuses what is unbalanced).
_MARKER_VAR = (
    r"(?:python_version|python_full_version|os_name|sys_platform|platform_release"
    r"|platform_system|platform_version|platform_machine|platform_python_implementation"
    r"|implementation_name|implementation_version|extra)"
)
_MARKER_VALUE = rf"(?:{_MARKER_VAR}|'[^'$\\]*'|\"[^\"$\\]*\")"
_MARKER_OP = r"(?:===|==|!=|~=|<=|>=|<|>|not in|in)"
_MARKER_TEST = rf"(?:\( ?)*{_MARKER_VALUE} ?{_MARKER_OP} ?{_MARKER_VALUE}(?: ?\))*"
_MARKER = rf"{_MARKER_TEST}(?: (?:and|or) {_MARKER_TEST})*"
_HASH = r"--hash[= ][a-z0-9]+:[A-Fa-f0-9]+"
_REQUIREMENT = re.compile(
    rf"{_NAME} ?(?:{_EXTRAS})? ?(?:{_SPECS}|\( ?{_SPECS} ?\))? ?(?:; ?{_MARKER})?(?: {_HASH})*"
)
# pip's comment rule: `#` at the start of a line or after whitespace (found without
# backtracking over the blanks before it).
_COMMENT = re.compile(r"(?:^|(?<=\s))#")


def _strip_comment(line: str) -> str:
    found = _COMMENT.search(line)
    return line[: found.start()] if found else line


@dataclass(frozen=True)
class RequirementProblem:
    line: int
    column: int
    message: str


def check_requirements_bytes(data: bytes) -> list[RequirementProblem]:
    """Every line of `data` that is not a dependency by name, located (1-based)."""
    if len(data) > MAX_BYTES:
        return [RequirementProblem(1, 1, f"is larger than {MAX_BYTES:,} bytes")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return [RequirementProblem(line, column, "is not UTF-8 text")]
    return check_requirements_text(text.removeprefix("\ufeff"))


def check_requirements_text(text: str) -> list[RequirementProblem]:
    problems: list[RequirementProblem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        # Refused wherever it is, even in a comment: no second opinion on what pip expands.
        if "${" in raw:
            problems.append(RequirementProblem(number, raw.index("${") + 1, _VARIABLE))
    for number, line in _logical_lines(text):
        problem = None if "${" in line else _line_problem(line)
        if problem:
            column, message = problem
            problems.append(RequirementProblem(number, column, message))
    return sorted(problems, key=lambda p: (p.line, p.column))


_VARIABLE = (
    "`${...}` is an environment variable pip would expand; write the value itself "
    "(a requirements file never needs a secret)"
)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line number, joined text), joined as pip joins lines ending in `\\`
    (pip's req_file.join_lines: a comment line ends the joined line)."""
    lines: list[tuple[int, str]] = []
    start, parts = 0, list[str]()
    for number, raw in enumerate(text.splitlines(), start=1):
        comment = raw.lstrip().startswith("#")
        if raw.endswith("\\") and not comment:
            start = start if parts else number
            parts.append(raw.strip("\\"))
            continue
        if parts:
            parts.append(" " + raw if comment else raw)
            lines.append((start, "".join(parts)))
            parts = []
        else:
            lines.append((number, raw))
    if parts:
        lines.append((start, "".join(parts)))
    return lines


def _line_problem(line: str) -> tuple[int, str] | None:
    body = _strip_comment(line)
    stripped = body.strip()
    if not stripped:
        return None
    column = len(body) - len(body.lstrip()) + 1
    if stripped.startswith("-"):
        return column, _option_message(stripped)
    collapsed = " ".join(stripped.split())
    if _REQUIREMENT.fullmatch(collapsed):
        return None
    return column, _requirement_message(collapsed)


def _option_message(option: str) -> str:
    name = re.match(r"-+[A-Za-z-]*", option)
    shown = name.group() if name else "-"
    if shown in {"-r", "--requirement", "-c", "--constraint"}:
        why = "reads another file"
    elif shown in {"-e", "--editable"}:
        why = "builds a local folder or a repository in place"
    elif shown in {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--no-index"}:
        why = "changes where packages come from"
    else:
        why = "is a pip option"
    return (
        f"`{shown}` {why}; a consumer's requirements.txt may only list packages by name "
        "(with versions, extras, markers and --hash)"
    )


def _requirement_message(text: str) -> str:
    if "://" in text or re.match(rf"{_NAME} ?(?:\[[^\]]*\])? ?@", text):
        what = "a URL or VCS requirement (`name @ url`, `git+https://...`)"
    elif text.startswith((".", "/", "~")) or "/" in text or "\\" in text:
        what = "a local path"
    else:
        what = "not a requirement by name"
    return (
        f"{what} is not allowed: pip would build it, running code from it; list the "
        "package by name and version (`name==1.2.3`), published as a wheel"
    )


def requirements_problems(path: Path) -> list[RequirementProblem]:
    """The problems of the requirements file at `path` (bounded read)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        return [RequirementProblem(1, 1, f"cannot be read: {exc.strerror}")]
    return check_requirements_bytes(data)
