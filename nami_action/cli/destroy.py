"""`nami destroy`: delete pipeline stacks, refusing where webhooks still wait."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from nami_action.apply import DeployOptions, deploy
from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import config_option, handle_errors, read_config
from nami_action.cli.deploy import print_event
from nami_action.plan.planner import PlanOptions, plan_destroy
from nami_action.render.text import deploy_text, plan_text


@click.command()
@click.argument("pipelines", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every deployed pipeline of the project.")
@config_option
@click.option("--force", is_flag=True, help="Delete even if queues hold webhooks.")
@click.option("--poll-seconds", default=2.0, hidden=True, type=float)
@aws_options
@handle_errors
def destroy(
    pipelines: tuple[str, ...],
    everything: bool,
    config: Path,
    force: bool,
    poll_seconds: float,
    **aws_kwargs: Any,
) -> None:
    """Delete the stacks of PIPELINE... (or --all). Queues are retained by CloudFormation."""
    if bool(pipelines) == everything:
        raise click.UsageError("name the pipelines to destroy, or pass --all (not both)")
    loaded = read_config(config)
    aws = connect(loaded, aws_kwargs)
    run = plan_destroy(loaded, aws, pipelines, PlanOptions(poll_seconds=poll_seconds))
    click.echo(plan_text(run.plan), err=True, nl=False)
    result = deploy(
        aws, run, DeployOptions(prune=True, force=force, poll_seconds=poll_seconds), print_event
    )
    click.echo(deploy_text(result), nl=False)
    if not result.ok:
        sys.exit(1)
