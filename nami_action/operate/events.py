"""`nami events`: what happened to each webhook, from the consumer's log lines.

The runtime prints one JSON line per record (runtime/consumer.py `log_line`: pipeline, id,
messageId, outcome, durationMs and, when present, reason, error, eventId). This module finds
those lines in the consumer's log group, keeps the ones asked for and renders them; everything
but `consumer_log_group`, `find_events` and `follow_events` is pure.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nami_action.aws import stacks as cfn
from nami_action.aws.logs import LogEvent, log_events
from nami_action.aws.session import Aws
from nami_action.compile.consumer import LOG_GROUP
from nami_action.config import PipelineConfig
from nami_action.config.routes import logical_prefix
from nami_action.errors import NamiError
from nami_action.operate.pipelines import no_route
from nami_action.runtime.consumer import ALL_OUTCOMES

# Values put into a CloudWatch filter pattern verbatim; anything else is matched here only.
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9._:=+/@-]{1,256}$")
# CloudWatch Logs may ingest an event a little after its timestamp: each poll looks back this
# far and drops what it already showed.
FOLLOW_LOOKBACK_MS = 60_000
HEADINGS = ("TIME", "ID", "OUTCOME", "DURATION", "REASON")
WIDTHS = (24, 36, 9, 10)  # fixed, so that --follow can print rows as they come


@dataclass(frozen=True)
class WebhookEvent:
    """One record's fate, as the runtime logged it."""

    log_event_id: str
    time_ms: int
    pipeline: str
    id: str | None
    message_id: str
    outcome: str
    duration_ms: float | None
    reason: str | None = None
    error: str | None = None
    event_id: str | None = None
    routes: tuple[str, ...] = ()  # a router's line: the routes it sent the webhook to
    put_back_copy: bool = False  # a router's line for a copy put back for routes still owed

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": iso_time(self.time_ms),
            "pipeline": self.pipeline,
            "id": self.id,
            "messageId": self.message_id,
            "outcome": self.outcome,
            "durationMs": self.duration_ms,
            "reason": self.reason,
            "error": self.error,
            "eventId": self.event_id,
            **({"routes": list(self.routes)} if self.routes else {}),
            **({"putBackCopy": True} if self.put_back_copy else {}),
        }


@dataclass(frozen=True)
class EventQuery:
    since_ms: int
    outcome: str | None = None
    webhook_id: str | None = None  # matches the webhook id, the SQS message id or the event id


def parse_event(event: LogEvent) -> WebhookEvent | None:
    """The runtime's per-record line, or None for any other line (START/END/REPORT, the
    batch's metrics line, a handler's own prints)."""
    try:
        line = json.loads(event.message.strip())
    except ValueError:
        return None
    if not isinstance(line, dict) or line.get("outcome") not in ALL_OUTCOMES or "_aws" in line:
        return None
    duration = line.get("durationMs")
    return WebhookEvent(
        log_event_id=event.event_id,
        time_ms=event.timestamp_ms,
        pipeline=str(line.get("pipeline", "")),
        id=_text(line.get("id")),
        message_id=str(line.get("messageId", "")),
        outcome=str(line["outcome"]),
        duration_ms=float(duration) if isinstance(duration, int | float) else None,
        reason=_text(line.get("reason")),
        error=_text(line.get("error")),
        event_id=_text(line.get("eventId")),
        routes=tuple(str(r) for r in routes)
        if isinstance(routes := line.get("routes"), list)
        else (),
        put_back_copy=line.get("putBackCopy") is True,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def matches(event: WebhookEvent, query: EventQuery) -> bool:
    if event.time_ms < query.since_ms:
        return False
    if query.outcome is not None and event.outcome != query.outcome:
        return False
    wanted = query.webhook_id
    return wanted is None or wanted in (event.id, event.message_id, event.event_id)


def filter_pattern(query: EventQuery) -> str | None:
    """A CloudWatch JSON filter pattern that narrows the search to the query's lines.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
    A value with characters a pattern would need escaped is left to `matches` alone."""
    terms = []
    if query.outcome is not None:
        terms.append(f'$.outcome = "{query.outcome}"')
    wanted = query.webhook_id
    if wanted is not None and _PLAIN_VALUE.fullmatch(wanted):
        either = " || ".join(f'$.{key} = "{wanted}"' for key in ("id", "messageId", "eventId"))
        terms.append(f"({either})")
    return "{ " + " && ".join(terms) + " }" if terms else None


def select(events: Iterable[LogEvent], query: EventQuery) -> list[WebhookEvent]:
    found = (parse_event(event) for event in events)
    chosen = [event for event in found if event is not None and matches(event, query)]
    return sorted(chosen, key=lambda event: (event.time_ms, event.log_event_id))


# --- reading from AWS ------------------------------------------------------------------------


def consumer_log_group(aws: Aws, pipeline: PipelineConfig, route: str | None = None) -> str:
    """The log group of the pipeline's function (with `routes:`, the router's), or of one
    route's function."""
    if route is not None and route not in (pipeline.spec.routes or {}):
        raise no_route(pipeline, route)
    resources = cfn.stack_resources(aws, pipeline.stack_name)
    if resources is None:
        raise NamiError(
            f"pipeline `{pipeline.name}` is not deployed (no stack {pipeline.stack_name} in "
            f"{aws.region}): run `nami deploy` first"
        )
    group = resources.get(LOG_GROUP if route is None else logical_prefix(route) + LOG_GROUP)
    if not group:
        raise NamiError(f"stack {pipeline.stack_name} has no consumer log group: run `nami deploy`")
    return group


def find_events(aws: Aws, group: str, query: EventQuery) -> list[WebhookEvent]:
    return select(log_events(aws, group, query.since_ms, filter_pattern(query)), query)


def follow_events(
    aws: Aws,
    group: str,
    query: EventQuery,
    poll_seconds: float,
    max_polls: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[WebhookEvent]:
    """Poll every `poll_seconds` and yield each matching line once, oldest first.

    Polling, not StartLiveTail: live tail is a streaming API that the emulator lacks, and a
    2 s poll is as fresh as a person reading a terminal needs."""
    shown: dict[str, int] = {}  # log event id -> timestamp, within the lookback window
    start = query.since_ms
    polls = 0
    while max_polls is None or polls < max_polls:
        if polls:
            sleep(poll_seconds)
        polls += 1
        for event in find_events(aws, group, EventQuery(start, query.outcome, query.webhook_id)):
            if event.log_event_id not in shown:
                shown[event.log_event_id] = event.time_ms
                yield event
        if shown:
            start = max(query.since_ms, max(shown.values()) - FOLLOW_LOOKBACK_MS)
            shown = {key: at for key, at in shown.items() if at >= start}


# --- rendering -------------------------------------------------------------------------------


def iso_time(time_ms: int) -> str:
    moment = datetime.fromtimestamp(time_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def table_header() -> str:
    return _row(HEADINGS)


def table_row(event: WebhookEvent) -> str:
    duration = "-" if event.duration_ms is None else f"{event.duration_ms:.1f}ms"
    return _row(
        (
            iso_time(event.time_ms),
            event.id or event.message_id or "-",
            event.outcome,
            duration,
            event.reason or event.error or _routed_to(event),
        )
    )


def _routed_to(event: WebhookEvent) -> str:
    if not event.routes:
        return ""
    copy = "put-back copy " if event.put_back_copy else ""
    return f"{copy}to {', '.join(event.routes)}"


def _row(cells: tuple[str, ...]) -> str:
    fixed = "  ".join(cell.ljust(width) for cell, width in zip(cells, WIDTHS, strict=False))
    return f"{fixed}  {cells[-1]}".rstrip()


def json_line(event: WebhookEvent) -> str:
    return json.dumps(event.as_dict(), ensure_ascii=False, sort_keys=True)


def since_ms(seconds: int, now_ms: int) -> int:
    # CloudWatch Logs refuses a startTime before 1970; looking back further is looking at all.
    return max(0, now_ms - seconds * 1000)
