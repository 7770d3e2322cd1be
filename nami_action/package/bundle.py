"""A bundle: everything a plan or deploy ships, built where no credentials exist.

Building runs the only step that touches code from the repository (pip installing a
consumer's requirements.txt, see deps.py), so `nami package` runs before any AWS credentials
are in the job; plan and deploy then read the bundle and never run pip. Layout:

    <dir>/manifest.json                 what is in it, with the SHA-256 of every file
    <dir>/artifacts/<sha256>.zip        the consumer zips (named by their content)
    <dir>/templates/<stack>.template.json
                                        the templates as `nami compile` writes them (for
                                        review; a plan compiles again, for its bucket)

The bundle's digest is the SHA-256 of the manifest's canonical JSON: the same nami.yaml,
code and nami version give the same digest on any machine. Reading a bundle checks every
digest and that it was built from this nami.yaml and environment; any difference is refused,
saying what differs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nami_action import __version__
from nami_action.compile import CodeLocation, compile_config
from nami_action.config import Config
from nami_action.errors import NamiError
from nami_action.package import Artifact
from nami_action.package.manifest import CodeManifest
from nami_action.package.pipelines import package_config

FORMAT = "nami-bundle-v1"
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


class BundleError(NamiError):
    """The bundle cannot be used for this config (missing, altered, or built from another)."""


@dataclass(frozen=True)
class Bundle:
    folder: Path
    manifest: dict[str, Any]
    digest: str
    artifacts: dict[str, Artifact]  # pipeline -> its zip inside the bundle


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def config_path(config: Config) -> Path:
    return config.base_dir / Path(config.file).name


def build_bundle(config: Config, folder: Path) -> Bundle:
    """Package and compile `config` into `folder` (emptied first); returns the bundle."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "artifacts").mkdir(parents=True)
    (folder / "templates").mkdir()
    artifacts = package_config(config, exclude=[folder])
    bucket = config.artifacts_bucket  # None: the templates take an ArtifactBucket parameter
    code = {
        name: CodeLocation(bucket, artifact.s3_key, artifact.manifest)
        for name, artifact in artifacts.items()
    }
    templates = compile_config(config, code)
    pipelines: dict[str, Any] = {}
    for name, artifact in sorted(artifacts.items()):
        zip_name = f"artifacts/{artifact.sha256}.zip"
        if not (folder / zip_name).exists():
            shutil.copyfile(artifact.path, folder / zip_name)
        stack = config.pipelines[name].stack_name
        template_name = f"templates/{stack}.template.json"
        (folder / template_name).write_text(templates[stack], encoding="utf-8")
        pipelines[name] = {
            "stack": stack,
            "zip": {"path": zip_name, "sha256": artifact.sha256, "size": artifact.size},
            # What the zip holds, for the templates' Metadata when plan compiles them again.
            "code": artifact.manifest.to_json() if artifact.manifest else None,
            "template": {
                "path": template_name,
                "sha256": hashlib.sha256(templates[stack].encode("utf-8")).hexdigest(),
            },
        }
    manifest = {
        "format": FORMAT,
        "nami": __version__,
        "config": {"file": Path(config.file).name, "sha256": file_sha256(config_path(config))},
        "environment": config.environment,
        "artifact_bucket": bucket,
        "pipelines": pipelines,
    }
    (folder / MANIFEST).write_bytes(canonical(manifest) + b"\n")
    return read_bundle(folder, config)


def read_bundle(folder: Path, config: Config) -> Bundle:
    """The bundle in `folder`, checked file by file against its manifest and `config`."""
    manifest = _manifest(folder)
    differences = _differences(folder, manifest, config)
    if differences:
        raise BundleError(
            f"the bundle in {folder} does not match: "
            + "; ".join(differences[:10])
            + (f" (and {len(differences) - 10} more)" if len(differences) > 10 else "")
        )
    artifacts = {
        name: Artifact(
            path=folder / entry["zip"]["path"],
            sha256=entry["zip"]["sha256"],
            size=entry["zip"]["size"],
            manifest=CodeManifest.from_json(entry["code"]) if entry.get("code") else None,
        )
        for name, entry in manifest["pipelines"].items()
    }
    digest = hashlib.sha256(canonical(manifest)).hexdigest()
    return Bundle(folder=folder, manifest=manifest, digest=digest, artifacts=artifacts)


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_MANIFEST_BYTES + 1)
        manifest = json.loads(data) if len(data) <= MAX_MANIFEST_BYTES else None
    except (OSError, ValueError) as exc:
        raise BundleError(
            f"no readable bundle in {folder} ({exc.__class__.__name__}): build it with "
            "`nami package --out` before the credentials step"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path} is not a {FORMAT} manifest")
    if not isinstance(manifest.get("pipelines"), dict):
        raise BundleError(f"{path} lists no pipelines")
    return manifest


def _differences(folder: Path, manifest: dict[str, Any], config: Config) -> list[str]:
    found = []
    if manifest.get("nami") != __version__:
        found.append(f"built by nami {manifest.get('nami')}, this is nami {__version__}")
    config_sha = file_sha256(config_path(config))
    if (manifest.get("config") or {}).get("sha256") != config_sha:
        found.append(f"built from another {Path(config.file).name} than this checkout's")
    if manifest.get("environment") != config.environment:
        found.append(
            f"built for environment {manifest.get('environment')!r}, not {config.environment!r}"
        )
    pipelines: dict[str, Any] = manifest["pipelines"]
    if set(pipelines) != set(config.pipelines):
        found.append(f"pipelines {sorted(pipelines)} != nami.yaml's {sorted(config.pipelines)}")
    for name, entry in sorted(pipelines.items()):
        for kind in ("zip", "template"):
            found += _file_difference(folder, name, kind, entry)
    return found


def _file_difference(folder: Path, name: str, kind: str, entry: Any) -> list[str]:
    item = entry.get(kind) if isinstance(entry, dict) else None
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        return [f"{name}: no {kind} listed"]
    path = (folder / item["path"]).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        return [f"{name}: {kind} {item['path']} is missing"]
    actual = file_sha256(path)
    if actual != item.get("sha256"):
        return [
            f"{name}: {kind} {item['path']} has SHA-256 {actual[:12]}, not {item.get('sha256')}"
        ]
    return []
