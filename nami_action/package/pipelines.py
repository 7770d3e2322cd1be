"""Package every pipeline of a Config: one zip per distinct (code folder, platform).

Where the caches live (installed requirements, zips, templates): beside nami.yaml in
`.nami/cache` on a workstation; in GitHub Actions under RUNNER_TEMP, which the runner empties
at the start and end of every job (https://docs.github.com/en/actions/reference/workflows-and-actions/variables),
so nothing in the checkout, nor a cache restored into it, is ever read as a build output. A
`.nami/` committed to the repository is refused everywhere: its cache keys are hashes anyone
can compute, so a pull request could plant the "installed" packages a zip ships.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from nami_action.config import Config
from nami_action.config.code import code_key, printable
from nami_action.config.routes import route_code_folder, route_pipelines
from nami_action.errors import ConfigError, NamiError
from nami_action.package import (
    Artifact,
    PackageError,
    RouteCode,
    build_artifact,
    build_routes_artifact,
    build_runtime_artifact,
)

NAMI_FOLDER = ".nami"
CACHE_DIR = Path(NAMI_FOLDER) / "cache"


def cache_dir_for(config: Config, env: Mapping[str, str] | None = None) -> Path:
    """The cache folder of this config (see the module docstring)."""
    env = os.environ if env is None else env
    refuse_committed_nami_folder(config.base_dir)
    if env.get("GITHUB_ACTIONS") != "true":
        return config.base_dir / CACHE_DIR
    temp = env.get("RUNNER_TEMP")
    root = Path(temp) / "nami-cache" if temp else _private_temp()  # no RUNNER_TEMP: no reuse
    return root / hashlib.sha256(str(config.base_dir.resolve()).encode()).hexdigest()[:16]


@functools.cache
def _private_temp() -> Path:
    return Path(tempfile.mkdtemp(prefix="nami-cache-"))


def refuse_committed_nami_folder(base_dir: Path) -> None:
    """A NamiError when git tracks files under `<base_dir>/.nami` (nothing there is source)."""
    if not (base_dir / NAMI_FOLDER).exists():
        return
    try:
        found = subprocess.run(
            ["git", "ls-files", "-z", "--", NAMI_FOLDER],
            cwd=base_dir,
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return  # no git: not a checkout, nothing committed to refuse
    tracked = [name for name in found.stdout.split(b"\0") if name]
    if found.returncode == 0 and tracked:
        raise NamiError(
            f"{len(tracked)} file(s) under {base_dir.name or base_dir}/{NAMI_FOLDER}/ are "
            "committed to the repository. That folder holds nami's build caches, never "
            "sources: a committed cache could ship code nobody reviewed. Remove it "
            f"(git rm -r --cached {NAMI_FOLDER}) and add `{NAMI_FOLDER}/` to .gitignore."
        )


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
        if pipeline.spec.routes:
            artifacts[name] = _routes_artifact(config, name, cache, exclude)
            continue
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


def _routes_artifact(config: Config, name: str, cache: Path, exclude: Sequence[Path]) -> Artifact:
    """A `routes:` pipeline's one zip: the router, and every route's code (package/__init__)."""
    routes = []
    for route, derived in route_pipelines(config.pipelines[name]).items():
        consumer = derived.spec.consumer
        if consumer.code is None:
            continue  # a forward route: the runtime delivers
        routes.append(
            RouteCode(
                folder=route_code_folder(route),
                code_dir=(config.base_dir / consumer.code).resolve(),
                architecture=consumer.architecture,
                python=consumer.runtime.removeprefix("python"),
            )
        )
    if not routes:
        return build_runtime_artifact(cache)
    try:
        return build_routes_artifact(routes, cache_dir=cache, exclude=exclude)
    except PackageError as exc:
        message = printable(f"pipeline `{name}`: a route's consumer.code: {exc}", 1000)
        where = ("pipelines", name, "routes")
        raise ConfigError([config.document.problem(where, message)]) from None
