"""What a consumer zip holds, small enough for the template's Metadata: the digest of each of
the consumer's own files, the version of each installed requirement, one digest for the nami
runtime. The deployed template then says what code is deployed, and a plan can name the files
and packages a change touches instead of only a new S3 key."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nami_action.package.archive import Entry

DIGEST_CHARS = 16  # 64 bits of SHA-256: enough to tell two versions of a file apart
MAX_FILES = 400  # beyond this the files are recorded as one digest (Metadata stays small)
DIST_INFO = ".dist-info"


@dataclass(frozen=True)
class CodeManifest:
    files: tuple[tuple[str, str], ...]  # (archive path, digest) of the consumer's own files
    packages: tuple[tuple[str, str], ...]  # (distribution, version) from requirements.txt
    runtime: str  # one digest over the nami runtime shipped in the zip

    def to_json(self) -> dict[str, Any]:
        """Everything, losslessly (a bundle's manifest keeps it for the plan: from_json)."""
        return {"files": self.files, "packages": self.packages, "runtime": self.runtime}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodeManifest:
        return cls(
            files=tuple((str(n), str(d)) for n, d in data["files"]),
            packages=tuple((str(n), str(v)) for n, v in data["packages"]),
            runtime=str(data["runtime"]),
        )

    def to_metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {"packages": dict(self.packages), "runtime": self.runtime}
        if len(self.files) <= MAX_FILES:
            data["files"] = dict(self.files)
        else:
            data["file_count"] = len(self.files)
            data["files_digest"] = _digest_of(self.files)
        return data


def build_manifest(
    code: Sequence[Entry], deps: Sequence[Entry], runtime: Sequence[Entry]
) -> CodeManifest:
    return CodeManifest(
        files=tuple((entry.name, file_digest(entry)) for entry in sorted(code)),
        packages=installed_packages(deps),
        runtime=_digest_of(tuple((entry.name, file_digest(entry)) for entry in sorted(runtime))),
    )


def file_digest(entry: Entry) -> str:
    return hashlib.sha256(entry.source.read_bytes()).hexdigest()[:DIGEST_CHARS]


def installed_packages(deps: Sequence[Entry]) -> tuple[tuple[str, str], ...]:
    """(name, version) of every distribution pip installed, from its `<name>-<version>.dist-info`
    folder (the wheel spec puts no `-` in either part)."""
    found: set[tuple[str, str]] = set()
    for entry in deps:
        top = entry.name.split("/", 1)[0]
        if top.endswith(DIST_INFO) and "-" in top:
            name, version = top.removesuffix(DIST_INFO).rsplit("-", 1)
            found.add((name.lower().replace("_", "-"), version))
    return tuple(sorted(found))


def _digest_of(pairs: tuple[tuple[str, str], ...]) -> str:
    text = "\n".join(f"{name}\0{digest}" for name, digest in pairs)
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARS]
