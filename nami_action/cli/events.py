"""`nami events`: what happened to each webhook of a pipeline, from the consumer's logs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import config_argument, handle_errors, read_config
from nami_action.config.units import parse_duration
from nami_action.errors import printable
from nami_action.operate.events import (
    EventQuery,
    WebhookEvent,
    consumer_log_group,
    find_events,
    follow_events,
    json_line,
    since_ms,
    table_header,
    table_row,
)
from nami_action.operate.pipelines import select_pipeline
from nami_action.runtime.consumer import ALL_OUTCOMES


def _seconds(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        seconds = parse_duration(value)
    except ValueError:
        # Not parse_duration's message: nami.yaml takes a number of seconds, this flag does not.
        raise click.BadParameter(
            f"{printable(repr(value))} is not a duration: write 30s, 15m, 12h or 4d"
        ) from None
    assert isinstance(seconds, int)
    return seconds


@click.command("events")
@click.argument("pipeline")
@config_argument
@click.option(
    "--since",
    default="1h",
    show_default=True,
    callback=_seconds,
    help="How far back to look: 30s, 15m, 12h, 4d.",
)
@click.option("--outcome", type=click.Choice(ALL_OUTCOMES), default=None, help="Only this outcome.")
@click.option(
    "--id", "webhook_id", default=None, help="Only this webhook (id, message id or event id)."
)
@click.option(
    "--route",
    default=None,
    help="A `routes:` pipeline: this route's consumer instead of the router (which logs "
    "where each webhook went, and the unrouted).",
)
@click.option("--follow", "-f", is_flag=True, help="Keep polling for new lines (every 2 s).")
@click.option(
    "--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--poll-seconds", default=2.0, hidden=True, type=float)
@click.option("--max-polls", default=None, hidden=True, type=click.IntRange(1))
@aws_options
@handle_errors
def events(
    pipeline: str,
    config: Path,
    since: int,
    outcome: str | None,
    webhook_id: str | None,
    route: str | None,
    follow: bool,
    output: str,
    poll_seconds: float,
    max_polls: int | None,
    **aws_kwargs: Any,
) -> None:
    """Show the fate of PIPELINE's webhooks (time, id, outcome, reason, duration), as the
    consumer logged them: a table, or JSON lines with --format json."""
    loaded = read_config(config)
    chosen = select_pipeline(loaded, pipeline)
    aws = connect(loaded, aws_kwargs)
    group = consumer_log_group(aws, chosen, route)
    query = EventQuery(since_ms(since, int(time.time() * 1000)), outcome, webhook_id)
    if output == "table":
        click.echo(table_header())
    found = (
        follow_events(aws, group, query, poll_seconds, max_polls)
        if follow
        else find_events(aws, group, query)
    )
    for event in found:
        _show(event, output)


def _show(event: WebhookEvent, output: str) -> None:
    click.echo(json_line(event) if output == "json" else table_row(event))
