"""CloudWatch reads for `nami status`: how long the oldest webhook of a queue has waited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nami_action.aws.session import Aws, translate_errors

WINDOW = timedelta(minutes=5)
PERIOD = 60  # seconds; SQS publishes its metrics every minute
QUERIES_PER_CALL = 500  # GetMetricData's limit


def oldest_message_ages(
    aws: Aws, queue_names: list[str], now: datetime | None = None
) -> dict[str, float | None]:
    """Queue name -> ApproximateAgeOfOldestMessage (seconds), the newest datapoint of the last
    five minutes, or None where there is none.

    SQS has no queue attribute for this figure; only its CloudWatch metric carries it. One
    GetMetricData call answers up to 500 queues. None is normal for a queue that has been
    empty (SQS publishes nothing for idle queues) and on the emulator, which records no SQS
    metrics at all: the caller shows "-".
    """
    ages: dict[str, float | None] = {name: None for name in queue_names}
    if not queue_names:
        return ages
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
                        "MetricName": "ApproximateAgeOfOldestMessage",
                        "Dimensions": [{"Name": "QueueName", "Value": name}],
                    },
                    "Period": PERIOD,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
            for i, name in enumerate(chunk)
        ]
        token: str | None = None
        with translate_errors("reading queue ages from CloudWatch"):
            while True:
                page = cloudwatch.get_metric_data(
                    MetricDataQueries=queries,
                    StartTime=end - WINDOW,
                    EndTime=end,
                    ScanBy="TimestampDescending",
                    **({"NextToken": token} if token else {}),
                )
                for result in page.get("MetricDataResults", []):
                    name = chunk[int(str(result["Id"])[1:])]
                    points = sorted(
                        zip(result.get("Timestamps", []), result.get("Values", []), strict=False),
                        reverse=True,
                    )
                    if points and ages[name] is None:
                        ages[name] = float(points[0][1])
                token = page.get("NextToken")
                if not token:
                    break
    return ages
