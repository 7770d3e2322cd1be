"""CloudWatch Logs: read a log group's events in a time range, optionally filtered server-side."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from nami_action.aws.session import Aws, AwsError, translate_errors


@dataclass(frozen=True)
class LogEvent:
    event_id: str  # unique per event in the group: what --follow dedupes by
    timestamp_ms: int
    message: str


def log_events(
    aws: Aws, group: str, start_ms: int, pattern: str | None = None
) -> Iterator[LogEvent]:
    """Every event of `group` from `start_ms` on, oldest first across streams, page by page.

    FilterLogEvents with a filter pattern narrows the search in CloudWatch; callers still
    check each line themselves (the emulator ignores JSON filter patterns).
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
    """
    paginator = aws.client("logs").get_paginator("filter_log_events")
    arguments: dict[str, object] = {"logGroupName": group, "startTime": start_ms}
    if pattern:
        arguments["filterPattern"] = pattern
    with translate_errors(f"reading the log group {group}"):
        try:
            for page in paginator.paginate(**arguments):
                for event in page.get("events", []):
                    yield LogEvent(
                        str(event["eventId"]), int(event["timestamp"]), str(event["message"])
                    )
        except aws.client("logs").exceptions.ResourceNotFoundException as exc:
            raise AwsError(
                f"the log group {group} does not exist yet: the consumer has not run since "
                "it was deployed"
            ) from exc
