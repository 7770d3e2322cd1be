"""How many webhooks each pipeline received in the last 30 days, from CloudWatch.

The queue's NumberOfMessagesSent counts every webhook the endpoint stored, whatever the
ingress kind (REST API, HTTP API or function URL), so one metric serves them all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nami_action.aws.metrics import queue_metric
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
