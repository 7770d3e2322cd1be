"""The GitHub Actions runner's interface: GITHUB_* variables, the event payload, output and
summary files, and workflow commands (annotations).

Everything here reads the environment it is given (default os.environ), so tests run it
with a dict and temporary files.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from nami_action.errors import NamiError, printable

Level = Literal["error", "warning", "notice"]


@dataclass(frozen=True)
class RunnerContext:
    """What the runner tells a step about the run, read from GITHUB_* variables."""

    event_name: str = ""
    event: dict[str, Any] = field(default_factory=dict)
    repository: str = ""
    sha: str = ""
    ref: str = ""
    actor: str = ""
    server_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    run_id: str = ""
    workflow_ref: str = ""
    workspace: str = ""
    output_file: str = ""
    summary_file: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RunnerContext:
        env = os.environ if env is None else env
        return cls(
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            event=read_event(env.get("GITHUB_EVENT_PATH", "")),
            repository=env.get("GITHUB_REPOSITORY", ""),
            sha=env.get("GITHUB_SHA", ""),
            ref=env.get("GITHUB_REF", ""),
            actor=env.get("GITHUB_ACTOR", ""),
            server_url=(env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
            api_url=(env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
            run_id=env.get("GITHUB_RUN_ID", ""),
            workflow_ref=env.get("GITHUB_WORKFLOW_REF", ""),
            workspace=env.get("GITHUB_WORKSPACE", ""),
            output_file=env.get("GITHUB_OUTPUT", ""),
            summary_file=env.get("GITHUB_STEP_SUMMARY", ""),
        )

    @property
    def in_actions(self) -> bool:
        return bool(self.event_name)

    @property
    def run_url(self) -> str | None:
        if not (self.repository and self.run_id):
            return None
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    @property
    def workflow_file(self) -> str:
        """`nami.yml` of GITHUB_WORKFLOW_REF (owner/repo/.github/workflows/nami.yml@ref)."""
        path = self.workflow_ref.split("@", 1)[0]
        return path.rsplit("/", 1)[-1] if "/.github/workflows/" in path else ""

    @property
    def pull_request(self) -> dict[str, Any] | None:
        pr = self.event.get("pull_request")
        return pr if isinstance(pr, dict) else None

    @property
    def pull_author(self) -> str:
        login = _get(self.pull_request, "user", "login")
        return login if isinstance(login, str) else ""

    @property
    def pull_number(self) -> int | None:
        pr = self.pull_request
        number = pr.get("number") if pr else self.event.get("number")
        return number if isinstance(number, int) else None

    @property
    def head_sha(self) -> str:
        """The commit a pull request shows (GITHUB_SHA is the merge commit there), or the
        merge queue's candidate commit."""
        pr = self.pull_request
        head = pr.get("head") if pr else None
        if isinstance(head, dict) and isinstance(head.get("sha"), str):
            return str(head["sha"])
        queued = _get(self.event, "merge_group", "head_sha")
        return str(queued) if isinstance(queued, str) else self.sha

    @property
    def is_fork(self) -> bool:
        """A pull request whose head lives in another repository (no secrets, read-only token)."""
        pr = self.pull_request
        if not pr:
            return False
        head_repo = _get(pr, "head", "repo", "full_name")
        base_repo = _get(pr, "base", "repo", "full_name") or self.repository
        if head_repo is None:  # the fork was deleted: treat as a fork, never as trusted
            return True
        return bool(head_repo != base_repo)

    @property
    def default_branch(self) -> str | None:
        branch = _get(self.event, "repository", "default_branch")
        return branch if isinstance(branch, str) else None


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def read_event(path: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NamiError(f"cannot read the event payload GITHUB_EVENT_PATH={path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------- files


def set_output(name: str, value: str, output_file: str | None = None) -> None:
    """Append `name` to GITHUB_OUTPUT with the heredoc syntax, safe for any value.

    The delimiter is random and checked against the value, as @actions/core does. Without
    GITHUB_OUTPUT (a local run) nothing is written.
    """
    path = os.environ.get("GITHUB_OUTPUT", "") if output_file is None else output_file
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(format_output(name, value))


def format_output(name: str, value: str) -> str:
    if "\n" in name or "\r" in name:
        raise ValueError(f"output name {name!r} contains a newline")
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    while delimiter in name or delimiter in value:  # practically never
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def append_summary(markdown: str, summary_file: str | None = None) -> None:
    """Append Markdown to the job summary (GITHUB_STEP_SUMMARY); a no-op outside Actions."""
    path = os.environ.get("GITHUB_STEP_SUMMARY", "") if summary_file is None else summary_file
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(markdown if markdown.endswith("\n") else markdown + "\n")


# --------------------------------------------------------------------------- commands


def escape_data(text: str) -> str:
    """Escape a workflow command's message (as @actions/core escapeData)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (as @actions/core escapeProperty)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    level: Level,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    column: int | None = None,
    end_line: int | None = None,
    title: str | None = None,
) -> str:
    """`::error file=nami.yaml,line=12,col=5::message` (one line, whatever the input)."""
    props: list[tuple[str, str]] = []
    if title:
        props.append(("title", title))
    if file:
        props.append(("file", file))
    if line is not None:
        props.append(("line", str(line)))
    if end_line is not None:
        props.append(("endLine", str(end_line)))
    if column is not None:
        props.append(("col", str(column)))
    rendered = ",".join(f"{key}={escape_property(printable(value))}" for key, value in props)
    # Line breaks stay breaks (%0D, %0A); any other control character (ESC...) is escaped.
    text = "".join(p if p in "\r\n" else printable(p) for p in re.split(r"([\r\n])", message))
    return f"::{level}{' ' + rendered if rendered else ''}::{escape_data(text)}"


def emit(command: str, stream: TextIO | None = None) -> None:
    """Print a workflow command on stdout, where the runner reads them."""
    out = stream or sys.stdout
    out.write(command + "\n")
    out.flush()


def group(title: str) -> str:
    return f"::group::{escape_data(title)}"


def endgroup() -> str:
    return "::endgroup::"
