"""`nami status`: what every pipeline of nami.yaml looks like in AWS right now.

Cheap by design: one DescribeStacks listing for the whole region, then per deployed pipeline
one ListStackResources and two GetQueueAttributes (queue and DLQ; with `routes:`, two more per
route, each route a row `PIPELINE/ROUTE`), a single GetMetricData for the age of the oldest
message of every queue at once, and one ListEventSourceMappings for which consumers are paused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from nami_action.aws import stacks as cfn
from nami_action.aws.metrics import oldest_message_ages
from nami_action.aws.queues import queue_depth
from nami_action.aws.session import Aws
from nami_action.compile import names
from nami_action.compile.dashboard import dashboard_url
from nami_action.config import Config
from nami_action.operate.pause import paused_queues
from nami_action.operate.pipelines import (
    deployed_routes,
    endpoint_from_api,
    queue_name_of,
    queues_in,
)

NOT_DEPLOYED = "not deployed"


@dataclass(frozen=True)
class PipelineStatus:
    pipeline: str
    stack: str
    stack_status: str  # CloudFormation's, or "not deployed"
    in_config: bool  # False: a stack of this project whose pipeline left nami.yaml
    endpoint: str | None
    waiting: int | None
    in_flight: int | None
    delayed: int | None
    dead_letters: int | None
    oldest_age_seconds: float | None  # None: no CloudWatch datapoint in the last 5 minutes
    last_deploy: str | None  # ISO 8601, UTC
    dashboard: str | None = None  # the CloudWatch console URL of the pipeline's dashboard
    paused: bool = False  # `nami pause`: the consumer's event source mapping is disabled

    @property
    def deployed(self) -> bool:
        return self.stack_status != NOT_DEPLOYED


@dataclass(frozen=True)
class ProjectStatus:
    project: str
    region: str
    pipelines: list[PipelineStatus]

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "region": self.region,
            "pipelines": [{**asdict(p), "deployed": p.deployed} for p in self.pipelines],
        }


@dataclass(frozen=True)
class _Found:
    pipeline: str
    stack: cfn.StackInfo
    path: str | None
    in_config: bool


@dataclass(frozen=True)
class _Owner:
    """A queue and dead-letter queue status reports on: a pipeline's, or a route's."""

    name: str  # the pipeline, or `PIPELINE/ROUTE` as `nami dlq` and `nami replay` take it
    found: _Found
    queue: str | None
    dead_letter: str | None
    endpoint: str | None = None  # a route has none: the router's endpoint is the pipeline's
    route: bool = False
    in_config: bool = True  # False: the pipeline, or this route of it, left nami.yaml


def project_status(config: Config, aws: Aws) -> ProjectStatus:
    stacks = cfn.list_stacks(aws)
    found: list[_Found] = []
    rows: dict[str, PipelineStatus] = {}
    for name, pipeline in config.pipelines.items():
        stack = stacks.get(pipeline.stack_name)
        if stack is None:
            rows[name] = _not_deployed(name, pipeline.stack_name)
        else:
            found.append(_Found(name, stack, pipeline.path, True))
    # Stacks of this project whose pipeline was removed from nami.yaml still hold webhooks.
    for stack in stacks.values():
        pipeline_tag = stack.tags.get(names.TAG_PIPELINE)
        if (
            stack.tags.get(names.TAG_PROJECT) == config.project
            and pipeline_tag
            and pipeline_tag not in config.pipelines
        ):
            found.append(_Found(pipeline_tag, stack, None, False))

    owners = [owner for item in found for owner in _owners(config, aws, item)]
    queue_names = [queue_name_of(owner.queue) for owner in owners if owner.queue]
    ages = oldest_message_ages(aws, queue_names)
    paused = paused_queues(aws, queue_names) if queue_names else set()
    for owner in owners:
        item, queue = owner.found, owner.queue
        depth = queue_depth(aws, queue) if queue else None
        dlq_depth = queue_depth(aws, owner.dead_letter) if owner.dead_letter else None
        rows[owner.name] = PipelineStatus(
            pipeline=owner.name,
            stack=item.stack.name,
            stack_status=item.stack.status,
            in_config=owner.in_config,
            endpoint=owner.endpoint,
            waiting=depth.visible if depth else None,
            in_flight=depth.in_flight if depth else None,
            delayed=depth.delayed if depth else None,
            dead_letters=dlq_depth.total if dlq_depth else None,
            oldest_age_seconds=ages.get(queue_name_of(queue)) if queue else None,
            last_deploy=_iso(item.stack.updated),
            dashboard=None if owner.route else _dashboard(config, item, aws.region),
            paused=bool(queue) and queue_name_of(str(queue)) in paused,
        )
    # Each pipeline, then its routes in the order written; then those left nami.yaml, each
    # before its routes.
    order = [name for owner in config.pipelines for name in rows if name.split("/")[0] == owner]
    order += sorted(set(rows) - set(order), key=lambda name: name.split("/"))
    return ProjectStatus(config.project, aws.region, [rows[name] for name in order])


def _owners(config: Config, aws: Aws, item: _Found) -> list[_Owner]:
    """The pipeline's queues, then each route's (in the same stack): one ListStackResources.
    The routes are those written, then those the stack still holds that nami.yaml no longer
    has (all of them, for a pipeline removed from it): their queues still hold webhooks."""
    listed = cfn.list_resources(aws, item.stack.name) or []
    resources = {r.logical_id: r.physical_id for r in listed}
    pipeline = config.pipelines[item.pipeline] if item.in_config else None
    api = names.api_id_of(resources, pipeline.spec.ingress if pipeline else None)
    endpoint = endpoint_from_api(api, aws.region, item.path) if api and item.path else None
    queues = queues_in(resources, None)
    owners = [_Owner(item.pipeline, item, *queues, endpoint=endpoint, in_config=item.in_config)]
    written = list((pipeline.spec.routes if pipeline else None) or {})
    left = [route for route in deployed_routes(listed) if route not in written]
    owners += [
        _Owner(
            f"{item.pipeline}/{route}",
            item,
            *queues_in(resources, route),
            route=True,
            in_config=route in written,
        )
        for route in written + left
    ]
    return owners


def _dashboard(config: Config, item: _Found, region: str) -> str | None:
    pipeline = config.pipelines.get(item.pipeline)
    if pipeline is None or not pipeline.spec.dashboard:
        return None
    return dashboard_url(item.stack.name, region)


def _not_deployed(name: str, stack: str) -> PipelineStatus:
    return PipelineStatus(name, stack, NOT_DEPLOYED, True, None, None, None, None, None, None, None)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- rendering -----------------------------------------------------------------------------

HEADINGS = (
    "PIPELINE",
    "STACK STATUS",
    "WAITING",
    "IN FLIGHT",
    "DLQ",
    "OLDEST",
    "LAST DEPLOY",
    "ENDPOINT",
)


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def status_text(status: ProjectStatus) -> str:
    lines = [f"project {status.project} in {status.region}", ""]
    table = [list(HEADINGS)]
    for row in status.pipelines:
        name = row.pipeline if row.in_config else f"{row.pipeline} (not in nami.yaml)"
        table.append(
            [
                name,
                row.stack_status + (", paused" if row.paused else ""),
                _count(row.waiting),
                _count(row.in_flight),
                _count(row.dead_letters),
                format_age(row.oldest_age_seconds),
                row.last_deploy or "-",
                row.endpoint or "-",
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADINGS))]
    for line in table:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    dashboards = [row for row in status.pipelines if row.dashboard]
    if dashboards:
        lines += ["", "dashboards"]
        width = max(len(row.pipeline) for row in dashboards)
        lines += [f"  {row.pipeline:<{width}}  {row.dashboard}" for row in dashboards]
    return "\n".join(text.rstrip() for text in lines) + "\n"


def status_json(status: ProjectStatus) -> str:
    return json.dumps(status.as_dict(), indent=2) + "\n"
