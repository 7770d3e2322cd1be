"""`nami replay`: webhooks exported by `nami dlq export` back into a pipeline's queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import config_option, handle_errors, read_config
from nami_action.operate.pipelines import locate, select_queue
from nami_action.operate.redrive import JOURNAL_FOLDER
from nami_action.operate.replay import ReplayOptions, replay


@click.command("replay")
@click.argument("pipeline")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="JSON Lines file written by `nami dlq export`.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be sent; send nothing.")
@config_option
@aws_options
@handle_errors
def replay_command(
    pipeline: str, source: Path, dry_run: bool, config: Path, **aws_kwargs: Any
) -> None:
    """Send the webhooks of an export file back into PIPELINE's (or PIPELINE/ROUTE's) queue,
    each exactly once.

    A journal beside nami.yaml remembers what was sent: interrupt and run again, or replay
    the same file twice, and nothing is sent twice. Malformed exports are skipped."""
    loaded = read_config(config)
    aws = connect(loaded, aws_kwargs)
    target = locate(aws, select_queue(loaded, pipeline))
    options = ReplayOptions(
        dry_run=dry_run, journal_folder=config.resolve().parent / JOURNAL_FOLDER
    )

    def progress(sent: int, total: int) -> None:
        click.echo(f"replayed {sent} of {total}", err=True)

    result = replay(aws, target, source, options, progress)
    queue = target.queue_url.rsplit("/", 1)[-1]
    skipped = []
    if result.already:
        skipped.append(f"{result.already} already replayed (journal {result.journal})")
    if result.unreplayable:
        skipped.append(f"{result.unreplayable} malformed (no envelope to send)")
    tail = f"; skipped {', '.join(skipped)}" if skipped else ""
    verb = "dry run: would replay" if result.dry_run else "replayed"
    click.echo(f"{verb} {result.sent} webhook(s) from {source} into {queue}{tail}")
