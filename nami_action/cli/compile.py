"""`nami compile`: write one CloudFormation template per pipeline."""

from __future__ import annotations

from pathlib import Path

import click

from nami_action.cli.common import bucket_name, config_argument, handle_errors, read_config
from nami_action.compile import CodeLocation, compile_config, write_templates
from nami_action.package.pipelines import package_config


@click.command("compile")
@config_argument
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for the templates.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True
)
@click.option(
    "--artifact-bucket",
    default=None,
    callback=bucket_name,
    help="Bucket of the consumer zips; default artifacts.bucket in nami.yaml, else "
    "the templates take an ArtifactBucket parameter.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Render every template anew instead of reusing unchanged ones from .nami/cache.",
)
@handle_errors
def compile_command(
    config: Path, out_dir: Path, fmt: str, artifact_bucket: str | None, no_cache: bool
) -> None:
    """Compile CONFIG into DIR/<project>-<pipeline>.template.json (no AWS calls)."""
    loaded = read_config(config)
    bucket = artifact_bucket or loaded.artifacts_bucket
    # The output folder may be inside a consumer's code folder (`code: .`): never package it.
    artifacts = package_config(loaded, exclude=[out_dir])
    code = {
        name: CodeLocation(bucket, artifact.s3_key, artifact.manifest)
        for name, artifact in artifacts.items()
    }
    templates = compile_config(loaded, code, use_cache=not no_cache)
    for path in write_templates(templates, out_dir, fmt):
        click.echo(str(path))
