"""`nami drift`: what differs between each deployed pipeline and its live resources."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import config_argument, handle_errors, read_config
from nami_action.cli.plan import emit, pipelines_option, split_names
from nami_action.drift.detect import DriftOptions, detect_drift
from nami_action.drift.model import DriftReport
from nami_action.drift.render import drift_markdown, drift_text


def render_drift(report: DriftReport, fmt: str) -> str:
    if fmt == "json":
        return report.to_json()
    if fmt == "markdown":
        return drift_markdown(report)
    return drift_text(report)


@click.command("drift")
@config_argument
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to FILE instead of stdout.",
)
@pipelines_option
@click.option(
    "--cloudformation/--no-cloudformation",
    default=True,
    show_default=True,
    help="Also run CloudFormation drift detection (DetectStackDrift; takes up to minutes).",
)
@click.option("--max-parallel", default=4, show_default=True, type=click.IntRange(1, 32))
@click.option("--poll-seconds", default=2.0, hidden=True, type=float)
@aws_options
@handle_errors
def drift(
    config: Path,
    fmt: str,
    out: Path | None,
    pipelines: str,
    cloudformation: bool,
    max_parallel: int,
    poll_seconds: float,
    **aws: Any,
) -> None:
    """Compare each deployed pipeline of CONFIG with its live resources.

    Exit 0 when nothing drifted, 2 when something did, 1 on error."""
    loaded = read_config(config)
    options = DriftOptions(
        split_names(pipelines),
        cloudformation=cloudformation,
        max_parallel=max_parallel,
        poll_seconds=poll_seconds,
    )
    report = detect_drift(loaded, connect(loaded, aws), options)
    emit(render_drift(report, fmt), out)
    sys.exit(report.exit_code)
