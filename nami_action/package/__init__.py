"""PACKAGE: consumer code + its requirements + the nami runtime -> one reproducible zip.

The zip is named and uploaded by the sha256 of its bytes (`nami/artifacts/<sha256>.zip`), so an
unchanged consumer keeps the same S3 key and CloudFormation sees no change to the function.
Pure apart from running pip (see `deps`); nothing here talks to AWS.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from nami_action.config.requirements import REQUIREMENTS_FILE
from nami_action.package.archive import (
    EXCLUDED_NAMES,
    Entry,
    PackageError,
    check_unique,
    collect_tree,
    write_zip,
)
from nami_action.package.deps import (
    PIP_PLATFORMS,
    check_requirements_file,
    has_requirements,
    install_requirements,
)
from nami_action.package.ignore import IGNORE_FILE, IgnoreRules, read_ignore_file
from nami_action.package.manifest import CodeManifest, build_manifest

__all__ = [
    "ARTIFACT_PREFIX",
    "RUNTIME_PACKAGE",
    "Architecture",
    "Artifact",
    "PackageError",
    "build_artifact",
    "build_runtime_artifact",
    "runtime_dir",
]

Architecture = Literal["arm64", "x86_64"]
ARTIFACT_PREFIX = "nami/artifacts/"
RUNTIME_PACKAGE = "nami_runtime"
_PYTHON_VERSION = re.compile(r"3\.\d{1,2}")


@dataclass(frozen=True)
class Artifact:
    """A built consumer zip in the cache folder, named by the sha256 of its bytes."""

    path: Path
    sha256: str
    size: int
    # What the zip holds, for the template's Metadata (package/manifest.py).
    manifest: CodeManifest | None = field(default=None, compare=False)

    @property
    def s3_key(self) -> str:
        return f"{ARTIFACT_PREFIX}{self.sha256}.zip"


def runtime_dir() -> Path:
    """The nami runtime sources shipped in every zip as the `nami_runtime` package."""
    return Path(__file__).resolve().parent.parent / "runtime"


def build_artifact(
    code_dir: Path,
    *,
    architecture: Architecture,
    python: str,
    cache_dir: Path,
    pip_command: Sequence[str] | None = None,
    exclude: Sequence[Path] = (),
) -> Artifact:
    """Zip `code_dir` (+ its requirements.txt installed for Lambda + the runtime) reproducibly.

    `pip_command` replaces `<this python> -m pip` (e.g. to use another pip); the installed
    requirements are cached in `cache_dir`, keyed by requirements.txt, architecture and python.
    Folders in `exclude` (e.g. compile's output folder) and `cache_dir` are never packaged.
    """
    if architecture not in PIP_PLATFORMS:
        raise PackageError(
            f"unknown Lambda architecture {architecture!r}: use one of {sorted(PIP_PLATFORMS)}"
        )
    if not _PYTHON_VERSION.fullmatch(python):
        raise PackageError(f"python version {python!r} should look like '3.12'")
    code_dir = _check_code_dir(code_dir)

    ignore_file = code_dir / IGNORE_FILE
    rules = read_ignore_file(ignore_file) if ignore_file.is_file() else IgnoreRules()
    # Nami's own cache (zips, templates) may sit inside the code folder (`code: .`): it
    # changes on every run, so packaging it would change the zip and its key every time.
    skip = frozenset({cache_dir.resolve(), *(p.resolve() for p in exclude)})
    code = collect_tree(code_dir, rules=rules, skip=skip)
    if not code:
        raise PackageError(
            f"consumer code folder {code_dir} has no files to package (after {IGNORE_FILE} "
            f"and the built-in exclusions: {', '.join(sorted(EXCLUDED_NAMES))}, *.pyc)"
        )
    if any(e.name == RUNTIME_PACKAGE or e.name.startswith(f"{RUNTIME_PACKAGE}/") for e in code):
        raise PackageError(
            f"{code_dir}/{RUNTIME_PACKAGE} clashes with the nami runtime package of that name; "
            "rename it"
        )
    groups: list[tuple[str, list[Entry]]] = [(str(code_dir), code)]
    deps: list[Entry] = []

    requirements = code_dir / REQUIREMENTS_FILE
    if requirements.is_file():
        check_requirements_file(requirements)  # before reading it as text: it may not be
    if requirements.is_file() and has_requirements(requirements.read_text(encoding="utf-8")):
        installed = install_requirements(
            requirements,
            architecture=architecture,
            python=python,
            cache_dir=cache_dir,
            pip_command=pip_command,
        )
        deps = collect_tree(installed, label=str(installed))
        groups.append((f"{REQUIREMENTS_FILE} packages", deps))

    runtime = _runtime_entries()
    groups.append(("the nami runtime", runtime))
    check_unique(groups)
    artifact = _write_artifact([e for _, entries in groups for e in entries], cache_dir)
    return replace(artifact, manifest=build_manifest(code, deps, runtime))


def build_runtime_artifact(cache_dir: Path) -> Artifact:
    """The nami runtime alone: the delivery function of a `forward` pipeline (no user code)."""
    return _write_artifact(_runtime_entries(), cache_dir)


def _check_code_dir(code_dir: Path) -> Path:
    if not code_dir.exists():
        raise PackageError(f"consumer code folder {code_dir} does not exist")
    if not code_dir.is_dir():
        raise PackageError(f"consumer code path {code_dir} is not a folder")
    return code_dir.resolve()


def _runtime_entries() -> list[Entry]:
    root = runtime_dir()
    entries = [
        # Always 0644: the runtime's modes depend on how nami was installed, not on its code.
        Entry(f"{RUNTIME_PACKAGE}/{e.name}", e.source, executable=False)
        for e in collect_tree(root, label="nami runtime")
        if e.name.endswith(".py")
    ]
    if not entries:
        raise PackageError(f"the nami runtime is missing from this installation ({root})")
    return entries


def _write_artifact(entries: list[Entry], cache_dir: Path) -> Artifact:
    out_dir = cache_dir / "artifacts"
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".build-", suffix=".zip", dir=out_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write_zip(entries, tmp)
        digest = hashlib.sha256()
        with tmp.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
        sha = digest.hexdigest()
        final = out_dir / f"{sha}.zip"
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return Artifact(path=final, sha256=sha, size=final.stat().st_size)
