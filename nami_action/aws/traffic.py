"""CloudWatch request counts: webhooks per pipeline (30 days), and calls to an old endpoint.

The queue's NumberOfMessagesSent counts every webhook the endpoint stored, whatever the
ingress kind (REST API, HTTP API or function URL), so one metric serves them all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nami_action.aws.metrics import Metric, Points, Unread, metric_reads, queue_metric
from nami_action.aws.session import Aws

WINDOW = timedelta(days=30)
PERIOD = 86400  # one datapoint a day: 30 per queue, well under GetMetricData's limits


def webhooks_last_30_days(
    aws: Aws, queue_names: list[str], now: datetime | None = None
) -> dict[str, float | None]:
    """Queue name -> messages sent in the last 30 days; None where CloudWatch has no data
    (a new or idle queue: SQS publishes nothing for a queue nobody used)."""
    if not queue_names:
        return {}
    end = now or datetime.now(UTC)
    points = queue_metric(
        aws,
        queue_names,
        ("NumberOfMessagesSent", "Sum", PERIOD),
        (end - WINDOW, end),
        "reading webhook counts from CloudWatch",
    )
    return {
        name: float(sum(value for _, value in found)) if found else None
        for name, found in points.items()
    }


def request_counts(
    aws: Aws, metrics: list[Metric], window: timedelta, now: datetime | None = None
) -> list[float | Unread | None]:
    """Requests each endpoint metric (plan/endpoints.py) counted in the last `window`, in the
    order asked; None where CloudWatch has no datapoint at all (API Gateway and Lambda publish
    nothing for an endpoint nobody called); Unread where CloudWatch did not answer in full.
    Hourly datapoints: GetMetricData returns none for a start older than 15 days unless the
    period is a multiple of 300 s, or 63 days of 3600 s.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html"""
    if not metrics:
        return []
    end = now or datetime.now(UTC)
    found = metric_reads(
        aws, metrics, ("Sum", 3600), (end - window, end), "reading endpoint traffic from CloudWatch"
    )
    return [count_of(points) for points in found]


def count_of(points: Points | Unread) -> float | Unread | None:
    """The sum of the datapoints; None for none at all."""
    if isinstance(points, Unread):
        return points
    return float(sum(value for _, value in points)) if points else None
