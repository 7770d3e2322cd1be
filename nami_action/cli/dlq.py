"""`nami dlq peek|export|redrive`: look at, archive and replay dead-lettered webhooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from nami_action.aws.session import Aws
from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import config_option, handle_errors, read_config
from nami_action.dev.app import DEFAULT_DATA_DIR
from nami_action.dev.dlq import dev_letters, dev_redrive
from nami_action.operate.dlq import export, letters_text, peek, write_letters
from nami_action.operate.pipelines import DeployedPipeline, locate, select_queue
from nami_action.operate.redrive import JOURNAL_FOLDER, RedriveOptions, redrive


def _target(
    config: Path, pipeline: str, aws_kwargs: dict[str, Any]
) -> tuple[Aws, DeployedPipeline]:
    loaded = read_config(config)
    chosen = select_queue(loaded, pipeline)
    aws = connect(loaded, aws_kwargs)
    return aws, locate(aws, chosen)


def _dev_target(config: Path, pipeline: str, data: Path) -> tuple[Path, str]:
    """`--dev`: the data folder of `nami dev --data DATA`, and the pipeline's name in it."""
    return data, select_queue(read_config(config), pipeline).name


def dev_options(command: Any) -> Any:
    """--dev and --data: read `nami dev`'s local dead letters instead of the deployed DLQ."""
    command = click.option(
        "--data",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_DATA_DIR,
        show_default=True,
        help="With --dev: the data folder `nami dev` was started with.",
    )(command)
    return click.option(
        "--dev", "local", is_flag=True, help="The dead letters of `nami dev`, not of AWS."
    )(command)


@click.group()
def dlq() -> None:
    """Dead-lettered webhooks: peek at them, export them, move them back to the queue."""


@dlq.command("peek")
@click.argument("pipeline")
@click.option("-n", "limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option(
    "--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@dev_options
@config_option
@aws_options
@handle_errors
def peek_command(
    pipeline: str,
    limit: int,
    output: str,
    local: bool,
    data: Path,
    config: Path,
    **aws_kwargs: Any,
) -> None:
    """Show up to N dead-lettered webhooks of PIPELINE (PIPELINE/ROUTE: a route's) without
    consuming them.

    Each is received hidden for a moment and made visible again right after; its receive
    count grows by one (not with --dev: the local queue can be read without receiving)."""
    if local:
        letters = dev_letters(*_dev_target(config, pipeline, data), limit)
    else:
        aws, target = _target(config, pipeline, aws_kwargs)
        letters = peek(aws, target.dead_letter_url, limit)
    if output == "json":
        click.echo(json.dumps([letter.as_dict() for letter in letters], indent=2))
    else:
        click.echo(letters_text(letters, peek_counted=not local), nl=False)


@dlq.command("export")
@click.argument("pipeline")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON Lines file to write.",
)
@dev_options
@config_option
@aws_options
@handle_errors
def export_command(
    pipeline: str, out: Path, local: bool, data: Path, config: Path, **aws_kwargs: Any
) -> None:
    """Archive every dead-lettered webhook of PIPELINE (or PIPELINE/ROUTE) to a JSON Lines
    file, one object per message (SQS id and attributes, envelope with the body in base64),
    without consuming."""
    if local:
        letters = dev_letters(*_dev_target(config, pipeline, data))
        write_letters(letters, out)
        click.echo(f"exported {len(letters)} dead letter(s) to {out}")
        return
    aws, target = _target(config, pipeline, aws_kwargs)
    result = export(
        aws,
        target.dead_letter_url,
        out,
        on_batch=lambda seen: click.echo(f"read {seen}", err=True),
    )
    click.echo(f"exported {result.count} dead letter(s) to {result.path}")
    if result.count < result.expected:
        why = (
            " (a FIFO queue shows only the first 10 messages of a group until they are deleted)"
            if target.fifo
            else ""
        )
        click.echo(f"warning: the queue reported about {result.expected} message(s){why}", err=True)


@dlq.command("redrive")
@click.argument("pipeline")
@click.option(
    "--rate", type=click.FloatRange(min=0.1), default=None, help="At most N messages per second."
)
@click.option("--dry-run", is_flag=True, help="Count what would move; move nothing.")
@click.option("--poll-seconds", default=2.0, hidden=True, type=float)
@dev_options
@config_option
@aws_options
@handle_errors
def redrive_command(
    pipeline: str,
    rate: float | None,
    dry_run: bool,
    poll_seconds: float,
    local: bool,
    data: Path,
    config: Path,
    **aws_kwargs: Any,
) -> None:
    """Move PIPELINE's (or PIPELINE/ROUTE's) dead-lettered webhooks back to its queue, to be
    consumed again.

    Uses SQS's message move task where available, else copies each message and deletes the
    original only once the copy is stored. Safe to interrupt and run again. Moves at most
    what the dead-letter queue held when it started: what fails again and returns during
    the run stays for the next one. With --dev: `nami dev`'s queue, in one transaction."""
    if local:
        local_target = _dev_target(config, pipeline, data)
        if dry_run:
            count = len(dev_letters(*local_target))
            click.echo(f"dry run: would move {count} message(s) back to the nami dev queue")
            return
        click.echo(f"moved {dev_redrive(*local_target)} message(s) back to the nami dev queue")
        return
    aws, target = _target(config, pipeline, aws_kwargs)
    options = RedriveOptions(
        rate=rate,
        dry_run=dry_run,
        journal_folder=config.resolve().parent / JOURNAL_FOLDER,
        poll_seconds=poll_seconds,
    )

    def progress(moved: int, total: int | None) -> None:
        click.echo(f"moved {moved}" + (f" of ~{total}" if total else ""), err=True)

    result = redrive(aws, target, options, progress)
    queue, dead_letters = target.queue_url.rsplit("/", 1)[-1], target.dead_letter_url
    source = dead_letters.rsplit("/", 1)[-1]
    if result.dry_run:
        how = "SQS's move task" if result.method == "move-task" else "copying"
        click.echo(
            f"dry run: would move about {result.moved} message(s) from {source} to {queue} "
            f"by {how}" + (f"; {result.still_hidden} more in flight" if result.still_hidden else "")
        )
        return
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    resumed = f" (+{result.resumed} finished from an interrupted run)" if result.resumed else ""
    click.echo(f"moved {result.moved} message(s) from {source} to {queue}{resumed}")
