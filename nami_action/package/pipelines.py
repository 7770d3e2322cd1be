"""Package every pipeline of a Config: one zip per distinct (code folder, platform)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nami_action.config import Config
from nami_action.config.code import code_key, printable
from nami_action.errors import ConfigError
from nami_action.package import Artifact, PackageError, build_artifact, build_runtime_artifact

CACHE_DIR = Path(".nami") / "cache"


def cache_dir_for(config: Config) -> Path:
    """Build outputs live beside nami.yaml (add `.nami/` to .gitignore)."""
    return config.base_dir / CACHE_DIR


def package_config(
    config: Config, cache_dir: Path | None = None, *, exclude: Sequence[Path] = ()
) -> dict[str, Artifact]:
    """Pipeline name -> its artifact. Pipelines sharing a folder and platform share a zip.

    A folder that cannot be packaged is a ConfigError at the `consumer.code` naming it;
    `exclude` lists folders never to package (e.g. the templates' output folder).
    """
    cache = cache_dir or cache_dir_for(config)
    built: dict[tuple[Path, str, str], Artifact] = {}
    artifacts: dict[str, Artifact] = {}
    for name, pipeline in config.pipelines.items():
        consumer = pipeline.spec.consumer
        if consumer.code is None:  # `forward`: the runtime alone is the delivery function
            artifacts[name] = build_runtime_artifact(cache)
            continue
        code_dir = (config.base_dir / consumer.code).resolve()
        python = consumer.runtime.removeprefix("python")
        key = (code_dir, consumer.architecture, python)
        if key not in built:
            try:
                built[key] = build_artifact(
                    code_dir,
                    architecture=consumer.architecture,
                    python=python,
                    cache_dir=cache,
                    exclude=exclude,
                )
            except PackageError as exc:
                message = printable(
                    f"pipeline `{name}`: consumer.code `{consumer.code}`: {exc}", 1000
                )
                raise ConfigError([config.document.problem(code_key(name), message)]) from None
        artifacts[name] = built[key]
    return artifacts
