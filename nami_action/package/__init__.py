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
    has_requirements,
    install_requirements,
)
from nami_action.package.ignore import IGNORE_FILE, read_ignore_file
from nami_action.package.manifest import CodeManifest, build_manifest
from nami_action.package.reading import decode_text, read_folder_file

__all__ = [
    "ARTIFACT_PREFIX",
    "RUNTIME_PACKAGE",
    "Architecture",
    "Artifact",
    "PackageError",
    "build_artifact",
    "build_routes_artifact",
    "build_runtime_artifact",
    "runtime_dir",
]

Architecture = Literal["arm64", "x86_64"]
ARTIFACT_PREFIX = "nami/artifacts/"
RUNTIME_PACKAGE = "nami_runtime"
MAX_REQUIREMENTS_BYTES = 1024 * 1024
# "250 MB: the maximum size of the contents of a deployment package, including layers and
# custom runtimes (unzipped)"; Lambda answers "Unzipped size must be smaller than 262144000
# bytes". https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
# Its 50 MB limit on the zip applies to uploads to the Lambda API only; nami deploys from S3.
MAX_UNZIPPED_BYTES = 262_144_000
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
    code, deps = _code_entries(code_dir, architecture, python, cache_dir, pip_command, exclude)
    groups: list[tuple[str, list[Entry]]] = [(str(code_dir), code)]
    if deps:
        groups.append((f"{REQUIREMENTS_FILE} packages", deps))
    runtime = _runtime_entries()
    groups.append(("the nami runtime", runtime))
    return _checked_artifact(groups, cache_dir, build_manifest(code, deps, runtime))


def build_routes_artifact(
    routes: Sequence[RouteCode],
    *,
    cache_dir: Path,
    pip_command: Sequence[str] | None = None,
    exclude: Sequence[Path] = (),
) -> Artifact:
    """One zip for a `routes:` pipeline: the runtime (the router, the delivery functions) and
    each route's code folder with its requirements under `<folder>/` (e.g. `routes/billing/`),
    which that route's function puts first on sys.path. Requirements are installed per route,
    for its own architecture and Python."""
    runtime = _runtime_entries()
    groups: list[tuple[str, list[Entry]]] = [("the nami runtime", runtime)]
    all_code: list[Entry] = []
    all_deps: list[Entry] = []
    for route in routes:
        code_dir = route.code_dir
        code, deps = _code_entries(
            code_dir, route.architecture, route.python, cache_dir, pip_command, exclude
        )
        placed = [replace(e, name=f"{route.folder}/{e.name}") for e in code + deps]
        groups.append((str(code_dir), placed))
        all_code.extend(placed[: len(code)])
        all_deps.extend(deps)
    return _checked_artifact(groups, cache_dir, build_manifest(all_code, all_deps, runtime))


@dataclass(frozen=True)
class RouteCode:
    """A route's code folder and where it goes in the zip."""

    folder: str  # inside the zip
    code_dir: Path
    architecture: Architecture
    python: str


def _code_entries(
    code_dir: Path,
    architecture: Architecture,
    python: str,
    cache_dir: Path,
    pip_command: Sequence[str] | None,
    exclude: Sequence[Path],
) -> tuple[list[Entry], list[Entry]]:
    """A code folder's files and its installed requirements (checked, not yet zipped)."""
    if architecture not in PIP_PLATFORMS:
        raise PackageError(
            f"unknown Lambda architecture {architecture!r}: use one of {sorted(PIP_PLATFORMS)}"
        )
    if not _PYTHON_VERSION.fullmatch(python):
        raise PackageError(f"python version {python!r} should look like '3.12'")
    code_dir = _check_code_dir(code_dir)

    rules = read_ignore_file(code_dir / IGNORE_FILE)
    requirements = code_dir / REQUIREMENTS_FILE
    requirements_text = _requirements_text(requirements)  # refused links are never walked to
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
    check_unzipped_size(code)
    deps: list[Entry] = []
    if has_requirements(requirements_text):  # install_requirements checks the rules first
        installed = install_requirements(
            requirements,
            architecture=architecture,
            python=python,
            cache_dir=cache_dir,
            pip_command=pip_command,
        )
        deps = collect_tree(installed, label=str(installed))
    return code, deps


def _checked_artifact(
    groups: list[tuple[str, list[Entry]]], cache_dir: Path, manifest: CodeManifest
) -> Artifact:
    check_unique(groups)
    entries = [e for _, group in groups for e in group]
    check_unzipped_size(entries)
    artifact = _write_artifact(entries, cache_dir)
    return replace(artifact, manifest=manifest)


def build_runtime_artifact(cache_dir: Path) -> Artifact:
    """The nami runtime alone: the delivery function of a `forward` pipeline (no user code)."""
    return _write_artifact(_runtime_entries(), cache_dir)


def _requirements_text(requirements: Path) -> str:
    """requirements.txt as text ("" when there is none); refused when it is a link, special,
    over 1 MiB or not UTF-8 (see `reading`), before pip or anything else reads it."""
    raw = read_folder_file(requirements, MAX_REQUIREMENTS_BYTES)
    return "" if raw is None else decode_text(raw, str(requirements), REQUIREMENTS_FILE)


def check_unzipped_size(entries: list[Entry]) -> None:
    """Lambda's limit on the unzipped code, from the sizes the walk listed: a folder that
    cannot deploy is refused before any file is read or compressed."""
    total = sum(entry.size for entry in entries)
    if total <= MAX_UNZIPPED_BYTES:
        return
    largest = max(entries, key=lambda entry: entry.size)
    raise PackageError(
        f"the files to package come to {total:,} bytes unzipped; Lambda allows "
        f"{MAX_UNZIPPED_BYTES:,} (250 MB) for a function's code. The largest is {largest.name} "
        f"({largest.size:,} bytes): exclude what the function does not need in {IGNORE_FILE}"
    )


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
        Entry(f"{RUNTIME_PACKAGE}/{e.name}", e.source, executable=False, size=e.size)
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
