"""`nami pause` / `nami resume`: stop and restart a pipeline's consumer (not its endpoint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import config_argument, handle_errors, read_config
from nami_action.operate.pause import set_paused
from nami_action.operate.pipelines import select_pipeline


def _switch(pipeline: str, config: Path, paused: bool, aws_kwargs: dict[str, Any]) -> None:
    loaded = read_config(config)
    chosen = select_pipeline(loaded, pipeline)
    switched = set_paused(connect(loaded, aws_kwargs), chosen, paused)
    click.echo(switched.message())


@click.command()
@click.argument("pipeline")
@config_argument
@aws_options
@handle_errors
def pause(pipeline: str, config: Path, **aws_kwargs: Any) -> None:
    """Stop PIPELINE's consumer: its event source mapping is disabled. The endpoint still
    accepts and stores webhooks; they wait in the queue (up to queue.retention) until
    `nami resume`. A deploy keeps a paused pipeline paused."""
    _switch(pipeline, config, True, aws_kwargs)


@click.command()
@click.argument("pipeline")
@config_argument
@aws_options
@handle_errors
def resume(pipeline: str, config: Path, **aws_kwargs: Any) -> None:
    """Restart PIPELINE's consumer after `nami pause`: it takes the waiting webhooks, at most
    consumer.max_concurrency batches at once."""
    _switch(pipeline, config, False, aws_kwargs)
