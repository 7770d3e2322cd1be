"""A CloudWatch dashboard per pipeline: the endpoint, the queue, the DLQ, the runtime's outcomes
and the consumer function, on one page.

Dashboards are global to the account, not regional
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudwatch-dashboard.html),
so the name carries the region: the same project deployed to two regions gets two dashboards.
The body is JSON with `${...}` placeholders that Fn::Sub fills with the generated names, dumped
with sorted keys so that the template stays byte-identical for the same input.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
"""

from __future__ import annotations

import json
from typing import Any

from troposphere import GetAtt, Ref, Sub, Template
from troposphere.cloudwatch import Dashboard

from nami_action.compile import names
from nami_action.compile.alarms import METRIC_NAMESPACE, PIPELINE_DIMENSION
from nami_action.compile.ingress_http import api_metric
from nami_action.config import PipelineConfig
from nami_action.config.routes import route_pipelines
from nami_action.runtime.consumer import FORWARD_OUTCOMES, ROUTER_OUTCOMES

DASHBOARD = "Dashboard"
OUTCOME_METRICS = ("Handled", "Failed", "Rejected", "Malformed", "Duplicate")
# A `forward:` pipeline's runtime counts Forwarded instead of Handled, and Refused.
FORWARD_METRICS = tuple(outcome.capitalize() for outcome in FORWARD_OUTCOMES)
# A `routes:` pipeline's router counts Routed and Unrouted.
ROUTER_METRICS = tuple(outcome.capitalize() for outcome in ROUTER_OUTCOMES)
WIDTH, HEIGHT = 12, 6  # two widgets a row on the console's 24-column grid
PERIOD_SECONDS = 60


def dashboard_name(stack_name: str, region: str) -> str:
    return f"{stack_name}-{region}"


def dashboard_url(stack_name: str, region: str) -> str:
    name = dashboard_name(stack_name, region)
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards:name={name}"
    )


def add_dashboard(template: Template, pipeline: PipelineConfig) -> None:
    if not pipeline.spec.dashboard:
        return
    body = json.dumps({"widgets": _widgets(pipeline)}, sort_keys=True, separators=(",", ":"))
    template.add_resource(
        Dashboard(
            DASHBOARD,
            DashboardName=Sub(dashboard_name(pipeline.stack_name, "${AWS::Region}")),
            DashboardBody=Sub(
                body,
                QueueName=GetAtt(names.QUEUE, "QueueName"),
                DeadLetterQueueName=GetAtt(names.DEAD_LETTER_QUEUE, "QueueName"),
                FunctionName=Ref(names.FUNCTION),
            ),
        )
    )


def _widgets(pipeline: PipelineConfig) -> list[dict[str, Any]]:
    stack = pipeline.stack_name

    def ingress(metric: str, options: dict[str, str]) -> list[Any]:
        namespace, name, dimensions = api_metric(pipeline, metric, in_sub=True)
        return [namespace, name, *(part for pair in dimensions for part in pair), options]

    queue = ["QueueName", "${QueueName}"]
    function = ["FunctionName", "${FunctionName}"]
    graphs: list[tuple[str, list[list[Any]]]] = [
        (
            "Ingress: requests and errors a minute",
            [
                ingress("Count", {"stat": "Sum", "label": "requests"}),
                ingress("4XXError", {"stat": "Sum", "label": "4xx (incl. 429)"}),
                ingress("5XXError", {"stat": "Sum", "label": "5xx (not stored)"}),
            ],
        ),
        (
            "Backlog: webhooks waiting and in flight",
            [
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", *queue, {"label": "waiting"}],
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesNotVisible",
                    *queue,
                    {"label": "in flight"},
                ],
            ],
        ),
        (
            "Oldest waiting webhook (seconds)",
            [["AWS/SQS", "ApproximateAgeOfOldestMessage", *queue, {"label": "oldest age"}]],
        ),
        (
            "Dead-letter queue",
            [
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    "${DeadLetterQueueName}",
                    {"label": "dead letters"},
                ]
            ],
        ),
    ]
    if pipeline.spec.consumer.mode != "sqs":  # mode sqs bypasses the runtime: no outcomes
        graphs.append(
            (
                "Outcomes a minute (Nami runtime)",
                [
                    [METRIC_NAMESPACE, metric, PIPELINE_DIMENSION, stack, {"stat": "Sum"}]
                    for metric in _outcome_metrics(pipeline)
                ],
            )
        )
    graphs += [
        (
            "Consumer duration (ms)",
            [
                ["AWS/Lambda", "Duration", *function, {"stat": "Average", "label": "average"}],
                ["AWS/Lambda", "Duration", *function, {"stat": "p99", "label": "p99"}],
            ],
        ),
        (
            "Consumer errors and throttles a minute",
            [
                ["AWS/Lambda", "Errors", *function, {"stat": "Sum", "label": "errors"}],
                ["AWS/Lambda", "Throttles", *function, {"stat": "Sum", "label": "throttles"}],
                ["AWS/Lambda", "Invocations", *function, {"stat": "Sum", "label": "invocations"}],
            ],
        ),
    ]
    graphs += _route_graphs(pipeline)
    return [_graph(index, title, metrics) for index, (title, metrics) in enumerate(graphs)]


def _outcome_metrics(pipeline: PipelineConfig) -> tuple[str, ...]:
    if pipeline.spec.routes:
        return ROUTER_METRICS
    return OUTCOME_METRICS if pipeline.spec.forward is None else FORWARD_METRICS


def _route_graphs(pipeline: PipelineConfig) -> list[tuple[str, list[list[Any]]]]:
    """With `routes:`, each route's backlog, dead letters and outcomes, one line per route
    (route queues have fixed names, so no placeholder is needed)."""
    routes = route_pipelines(pipeline)
    if not routes:
        return []

    def queue_metric(name: str, route: PipelineConfig, queue: str) -> list[Any]:
        return ["AWS/SQS", name, "QueueName", queue, {"label": route.route}]

    done = {r: "Handled" if p.spec.forward is None else "Forwarded" for r, p in routes.items()}
    return [
        (
            "Routes: webhooks waiting",
            [
                queue_metric("ApproximateNumberOfMessagesVisible", p, names.queue_name(p))
                for p in routes.values()
            ],
        ),
        (
            "Routes: dead letters",
            [
                queue_metric(
                    "ApproximateNumberOfMessagesVisible", p, names.dead_letter_queue_name(p)
                )
                for p in routes.values()
            ],
        ),
        (
            "Routes: delivered a minute",
            [
                [
                    METRIC_NAMESPACE,
                    done[r],
                    PIPELINE_DIMENSION,
                    p.stack_name,
                    {"stat": "Sum", "label": r},
                ]
                for r, p in routes.items()
            ],
        ),
        (
            "Routes: failed a minute",
            [
                [
                    METRIC_NAMESPACE,
                    "Failed",
                    PIPELINE_DIMENSION,
                    p.stack_name,
                    {"stat": "Sum", "label": r},
                ]
                for r, p in routes.items()
            ],
        ),
    ]


def _graph(index: int, title: str, metrics: list[list[Any]]) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": (index % 2) * WIDTH,
        "y": (index // 2) * HEIGHT,
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "metrics": metrics,
            "view": "timeSeries",
            "stacked": False,
            "region": "${AWS::Region}",
            "period": PERIOD_SECONDS,
            "stat": "Maximum",
        },
    }
