"""`nami redeliver`: GitHub redelivers what a repository webhook failed to deliver.

The token is read from the environment only (GITHUB_TOKEN), never argv; GITHUB_API_URL points
at GitHub Enterprise Server (default https://api.github.com).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

import click

from nami_action.cli.common import handle_errors
from nami_action.config.units import parse_duration
from nami_action.errors import NamiError, printable
from nami_action.github.api import GitHubClient
from nami_action.operate.redeliver import Delivery, redeliver

# What `--repo` can name: GitHub's owner (letters, digits, `-`; `_` in Enterprise Managed
# Users' `handle_shortcode`) and repository (also `.`) names; the pair goes into the API's URL
# path, so nothing else may reach it.
_REPOSITORY = re.compile(r"[A-Za-z0-9_-]+/(?!\.{1,2}$)[A-Za-z0-9._-]+")
# A duration back past this is the same window as this (GitHub keeps deliveries for days).
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def _repository(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not _REPOSITORY.fullmatch(value):
        raise click.BadParameter(f"{printable(repr(value))} is not a repository: write owner/name")
    return value


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 time (UTC when no offset is given), or a duration back from now (6h, 2d)."""
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
        assert isinstance(seconds, int)
        now = datetime.now(UTC)
        # timedelta overflows past ~2.7 million years: what reaches before 1970 is 1970.
        if seconds >= (now - _EARLIEST).total_seconds():
            return _EARLIEST
        return now - timedelta(seconds=seconds)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is neither a duration (30m, 6h, 2d) nor an ISO 8601 time"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _line(delivery: Delivery) -> str:
    answered = delivery.status_code or "no answer"
    when = delivery.delivered_at.isoformat(timespec="seconds")
    return f"{when}  {delivery.guid}  {delivery.event or '-'}  last answer: {answered}"


@click.command("redeliver")
@click.option(
    "--repo",
    required=True,
    callback=_repository,
    help="The repository the webhook belongs to: owner/name.",
)
@click.option("--hook", "hook_id", required=True, type=click.IntRange(1), help="The hook's id.")
@click.option(
    "--since",
    default="1d",
    show_default=True,
    callback=_moment,
    help="Start of the window: a duration back from now (30m, 6h, 3d) or an ISO 8601 time.",
)
@click.option("--until", default=None, callback=_moment, help="End of the window (default now).")
@click.option("--dry-run", is_flag=True, help="List what would be redelivered, send nothing.")
@handle_errors
def redeliver_command(
    repo: str, hook_id: int, since: datetime, until: datetime | None, dry_run: bool
) -> None:
    """Ask GitHub to redeliver the failed deliveries of a repository webhook in a time window.

    GitHub never retries a failed delivery itself. Each event (X-GitHub-Delivery) none of
    whose attempts in the window got a 2xx is redelivered once. The token, from GITHUB_TOKEN,
    needs the repository permission "Webhooks: read and write" (classic: admin:repo_hook);
    the Actions job token cannot have it.
    """
    end = until or datetime.now(UTC)
    if since >= end:
        raise NamiError(f"--since ({since.isoformat()}) must be before --until ({end.isoformat()})")
    client = GitHubClient(
        os.environ.get("GITHUB_TOKEN", ""),
        repo,
        os.environ.get("GITHUB_API_URL") or "https://api.github.com",
    )
    result = redeliver(
        client, hook_id, since, end, dry_run=dry_run, progress=lambda d: click.echo(_line(d))
    )
    if dry_run:
        for delivery in result.failed:
            click.echo(_line(delivery))
    verb = "would redeliver" if dry_run else "redelivered"
    done = len(result.failed) if dry_run else len(result.redelivered)
    click.echo(
        f"{result.seen} deliveries in the window, {len(result.failed)} failed event(s); "
        f"{verb} {done}",
        err=True,
    )
    for error in result.errors:
        click.echo(f"error: {error}", err=True)
    if result.errors:
        raise SystemExit(1)
