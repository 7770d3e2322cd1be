"""`nami package`: build the bundle (zips, templates, manifest) that plan and deploy read.

Run it before any AWS credentials are in the job: it is the step that installs a consumer's
requirements.txt (see nami_action/package/bundle.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from nami_action.cli.common import config_argument, handle_errors, read_config
from nami_action.config import Config
from nami_action.package import Artifact
from nami_action.package.bundle import build_bundle, read_bundle

F = TypeVar("F", bound=Callable[..., Any])


def bundle_option(command: F) -> F:
    """`--bundle DIR` for the commands that plan: use its zips, run no pip."""
    return click.option(
        "--bundle",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Use the bundle `nami package --out DIR` built (checked against nami.yaml) "
        "instead of packaging here: no pip runs in this process.",
    )(command)


def bundle_artifacts(config: Config, bundle: Path | None) -> dict[str, Artifact] | None:
    return None if bundle is None else read_bundle(bundle, config).artifacts


@click.command("package")
@config_argument
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("nami-bundle"),
    show_default=True,
    help="Folder for the bundle (emptied first).",
)
@handle_errors
def package_command(config: Path, out_dir: Path) -> None:
    """Build the bundle of CONFIG in DIR: consumer zips, templates, manifest (no AWS calls)."""
    loaded = read_config(config)
    bundle = build_bundle(loaded, out_dir)
    for name, entry in sorted(bundle.manifest["pipelines"].items()):
        zip_sha, template_sha = entry["zip"]["sha256"], entry["template"]["sha256"]
        click.echo(f"{name}: zip {zip_sha[:12]}  template {template_sha[:12]}")
    click.echo(f"bundle {bundle.digest} in {out_dir}")
