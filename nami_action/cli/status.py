"""`nami status`: stack status, endpoint, queue depths and last deploy of every pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import config_argument, handle_errors, read_config
from nami_action.operate.status import project_status, status_json, status_text


@click.command()
@config_argument
@click.option(
    "--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@aws_options
@handle_errors
def status(config: Path, output: str, **aws_kwargs: Any) -> None:
    """Show every pipeline of CONFIG as deployed: stack status, endpoint, webhooks waiting,
    in flight and dead-lettered, age of the oldest waiting one, last deploy time. Each route
    of a `routes:` pipeline is a row of its own, PIPELINE/ROUTE, after its pipeline's; a stack
    whose pipeline (or route) left CONFIG is listed too, its routes read from the stack.

    The age comes from CloudWatch (ApproximateAgeOfOldestMessage, last 5 minutes); "-" when
    there is no datapoint (an idle queue, or an emulator)."""
    loaded = read_config(config)
    found = project_status(loaded, connect(loaded, aws_kwargs))
    click.echo(status_json(found) if output == "json" else status_text(found), nl=False)
