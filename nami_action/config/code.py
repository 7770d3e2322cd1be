"""`consumer.code` checked at validate time, at its location in nami.yaml.

The folder is read later by the package step; checking it here means `nami validate` (and the
editor, and the PR check) reports a missing or misplaced folder at the line that names it,
instead of compile failing without a location. The folder must stay inside the repository that
holds nami.yaml (the nearest parent with `.git`, else nami.yaml's folder): a config must not
package files from elsewhere on the machine that runs it (a CI runner's home, /etc...).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from nami_action.config.loader import Document, PathKey
from nami_action.config.models import Pipeline
from nami_action.config.requirements import REQUIREMENTS_FILE, requirements_problems
from nami_action.errors import Problem

# Linux limits (NAME_MAX, PATH_MAX), in bytes of the UTF-8 encoding.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096


class _Pipeline(Protocol):
    @property
    def spec(self) -> Pipeline: ...


def code_key(pipeline: str) -> PathKey:
    """Where a pipeline's `consumer.code` is in nami.yaml."""
    return ("pipelines", pipeline, "consumer", "code")


def printable(text: str, limit: int = 200) -> str:
    """`text` safe to print in one message line: control and other non-printable characters
    escaped (a newline followed by `::error` must not forge a GitHub workflow command), and
    long values shortened."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def check_code_folders(
    document: Document, base_dir: Path, pipelines: Mapping[str, _Pipeline]
) -> list[Problem]:
    """One problem per pipeline whose `consumer.code` is not a folder inside the repository."""
    root = repository_root(base_dir)
    problems = []
    checked: dict[str, str | None] = {}  # pipelines often share one folder: look once
    requirements_checked: set[str] = set()
    for label, key, code in code_sites(pipelines):
        if code not in checked:
            checked[code] = code_problem(code, base_dir, root)
        message = checked[code]
        if message:
            message = printable(message, limit=1000)
            problems.append(document.problem(key, f"{label}: consumer.code {message}"))
        elif code not in requirements_checked:
            requirements_checked.add(code)
            problems.extend(_requirements(document, base_dir, root, code))
    return problems


def code_sites(pipelines: Mapping[str, _Pipeline]) -> list[tuple[str, PathKey, str]]:
    """Every `consumer.code` written: (who, where in nami.yaml, the folder). A `forward`
    pipeline has none (rules.py says when one lacks it); a `routes:` pipeline has its routes'."""
    sites: list[tuple[str, PathKey, str]] = []
    for name, pipeline in pipelines.items():
        code = pipeline.spec.consumer.code
        if code is not None:
            sites.append((f"pipeline `{name}`", code_key(name), code))
        for route, spec in (pipeline.spec.routes or {}).items():
            if spec.consumer is not None and spec.consumer.code is not None:
                key: PathKey = ("pipelines", name, "routes", route, "consumer", "code")
                sites.append((f"pipeline `{name}` route `{route}`", key, spec.consumer.code))
    return sites


def _requirements(document: Document, base_dir: Path, root: Path, code: str) -> list[Problem]:
    """The consumer's requirements.txt, located at its own lines (see config/requirements)."""
    path = base_dir / code / REQUIREMENTS_FILE
    if not path.is_file():
        return []
    shown = os.path.normpath(os.path.join(os.path.dirname(document.file), code, REQUIREMENTS_FILE))
    if not path.resolve().is_relative_to(root):
        # Not read: a link to a file outside the repository is never opened, nor echoed.
        return [Problem(shown, 1, 1, "is a link to a file outside the repository")]
    found = requirements_problems(path)
    return [Problem(shown, p.line, p.column, f"{REQUIREMENTS_FILE}: {p.message}") for p in found]


def repository_root(base_dir: Path) -> Path:
    """The nearest folder holding `.git` at or above nami.yaml's folder, else that folder."""
    start = base_dir.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def code_problem(code: str, base_dir: Path, root: Path) -> str | None:
    """Why `code` (relative to `base_dir`) cannot be packaged, or None."""
    if "\0" in code:
        return "contains a NUL byte"
    encoded = code.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_PATH_BYTES:
        return f"is {len(encoded):,} bytes long; a path is limited to {MAX_PATH_BYTES:,}"
    long_names = [part for part in code.split("/") if len(part.encode()) > MAX_NAME_BYTES]
    if long_names:
        return f"has a name longer than {MAX_NAME_BYTES} bytes ({long_names[0][:40]}...)"
    if Path(code).is_absolute():
        return f"`{code}` must be relative to nami.yaml's folder"
    try:
        folder = (base_dir / code).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        return f"`{code}` cannot be resolved: {exc}"
    if not folder.is_relative_to(root):
        return f"`{code}` is outside the repository ({root}); keep the consumer code in it"
    return _folder_problem(code, folder)


def _folder_problem(code: str, folder: Path) -> str | None:
    try:
        if not folder.exists():
            return f"`{code}` does not exist (relative to nami.yaml's folder)"
        if not folder.is_dir():
            return f"`{code}` is not a folder"
        if not os.access(folder, os.R_OK | os.X_OK):
            return f"`{code}` cannot be read"
    except OSError as exc:
        return f"`{code}` cannot be read: {exc.strerror}"
    return None
