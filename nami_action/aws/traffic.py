"""How many webhooks each pipeline received in the last 30 days, from CloudWatch.

The queue's NumberOfMessagesSent counts every webhook the endpoint stored, whatever the
ingress kind (REST API, HTTP API or function URL), so one metric serves them all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nami_action.aws.session import Aws, translate_errors

WINDOW = timedelta(days=30)
PERIOD = 86400  # one datapoint a day: 30 per queue, well under GetMetricData's limits
QUERIES_PER_CALL = 500  # GetMetricData's limit


def webhooks_last_30_days(
    aws: Aws, queue_names: list[str], now: datetime | None = None
) -> dict[str, float | None]:
    """Queue name -> messages sent in the last 30 days; None where CloudWatch has no data
    (a new or idle queue: SQS publishes nothing for a queue nobody used)."""
    counts: dict[str, float | None] = dict.fromkeys(queue_names)
    end = now or datetime.now(UTC)
    cloudwatch = aws.client("cloudwatch")
    for start in range(0, len(queue_names), QUERIES_PER_CALL):
        chunk = queue_names[start : start + QUERIES_PER_CALL]
        queries = [
            {
                "Id": f"q{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": "NumberOfMessagesSent",
                        "Dimensions": [{"Name": "QueueName", "Value": name}],
                    },
                    "Period": PERIOD,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
            for i, name in enumerate(chunk)
        ]
        token: str | None = None
        with translate_errors("reading webhook counts from CloudWatch"):
            while True:
                page = cloudwatch.get_metric_data(
                    MetricDataQueries=queries,
                    StartTime=end - WINDOW,
                    EndTime=end,
                    **({"NextToken": token} if token else {}),
                )
                for result in page.get("MetricDataResults", []):
                    name = chunk[int(str(result["Id"])[1:])]
                    values = result.get("Values", [])
                    if values:
                        counts[name] = (counts[name] or 0.0) + float(sum(values))
                token = page.get("NextToken")
                if not token:
                    break
    return counts
