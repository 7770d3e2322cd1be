"""CloudWatch reads of SQS queue metrics: the age of the oldest webhook (`nami status`) and
how many webhooks each queue received (`nami plan --traffic`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nami_action.aws.session import Aws, translate_errors

WINDOW = timedelta(minutes=5)
PERIOD = 60  # seconds; SQS publishes its metrics every minute
QUERIES_PER_CALL = 500  # GetMetricData's limit

Points = list[tuple[datetime, float]]


def queue_metric(
    aws: Aws,
    queue_names: list[str],
    metric: tuple[str, str, int],
    window: tuple[datetime, datetime],
    doing: str,
) -> dict[str, Points]:
    """Queue name -> the datapoints of one AWS/SQS metric (name, statistic, period in
    seconds) between window's start and end, newest first. One GetMetricData call answers up
    to 500 queues; its pages are followed."""
    found: dict[str, Points] = {name: [] for name in queue_names}
    name, stat, period = metric
    cloudwatch = aws.client("cloudwatch")
    for start in range(0, len(queue_names), QUERIES_PER_CALL):
        chunk = queue_names[start : start + QUERIES_PER_CALL]
        queries = [
            {
                "Id": f"q{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": name,
                        "Dimensions": [{"Name": "QueueName", "Value": queue}],
                    },
                    "Period": period,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
            for i, queue in enumerate(chunk)
        ]
        token: str | None = None
        with translate_errors(doing):
            while True:
                page = cloudwatch.get_metric_data(
                    MetricDataQueries=queries,
                    StartTime=window[0],
                    EndTime=window[1],
                    ScanBy="TimestampDescending",
                    **({"NextToken": token} if token else {}),
                )
                for result in page.get("MetricDataResults", []):
                    points = zip(
                        result.get("Timestamps", []), result.get("Values", []), strict=False
                    )
                    found[chunk[int(str(result["Id"])[1:])]].extend(points)
                token = page.get("NextToken")
                if not token:
                    break
    return {queue: sorted(points, reverse=True) for queue, points in found.items()}


def oldest_message_ages(
    aws: Aws, queue_names: list[str], now: datetime | None = None
) -> dict[str, float | None]:
    """Queue name -> ApproximateAgeOfOldestMessage (seconds), the newest datapoint of the last
    five minutes, or None where there is none.

    SQS has no queue attribute for this figure; only its CloudWatch metric carries it. None is
    normal for a queue that has been empty (SQS publishes nothing for idle queues) and on the
    emulator, which records no SQS metrics at all: the caller shows "-".
    """
    if not queue_names:
        return {}
    end = now or datetime.now(UTC)
    points = queue_metric(
        aws,
        queue_names,
        ("ApproximateAgeOfOldestMessage", "Maximum", PERIOD),
        (end - WINDOW, end),
        "reading queue ages from CloudWatch",
    )
    return {name: float(found[0][1]) if found else None for name, found in points.items()}
