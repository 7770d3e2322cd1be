"""CloudWatch reads of SQS queue metrics: the age of the oldest webhook (`nami status`) and
how many webhooks each queue received (`nami plan --traffic`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nami_action.aws.session import Aws, translate_errors

WINDOW = timedelta(minutes=5)
PERIOD = 60  # seconds; SQS publishes its metrics every minute
QUERIES_PER_CALL = 500  # GetMetricData's limit

Points = list[tuple[datetime, float]]


Metric = tuple[str, str, list[tuple[str, str]]]  # namespace, name, dimensions (name, value)


def queue_metric(
    aws: Aws,
    queue_names: list[str],
    metric: tuple[str, str, int],
    window: tuple[datetime, datetime],
    doing: str,
) -> dict[str, Points]:
    """Queue name -> the datapoints of one AWS/SQS metric (name, statistic, period in
    seconds) between window's start and end, newest first."""
    name, stat, period = metric
    wanted: list[Metric] = [("AWS/SQS", name, [("QueueName", queue)]) for queue in queue_names]
    found = metric_points(aws, wanted, (stat, period), window, doing)
    return dict(zip(queue_names, found, strict=True))


def metric_points(
    aws: Aws,
    metrics: list[Metric],
    statistic: tuple[str, int],
    window: tuple[datetime, datetime],
    doing: str,
) -> list[Points]:
    """The datapoints of each metric (statistic, period in seconds) between window's start and
    end, newest first, in the order asked. One GetMetricData call answers up to 500 metrics;
    its pages are followed."""
    found: list[Points] = [[] for _ in metrics]
    stat, period = statistic
    cloudwatch = aws.client("cloudwatch")
    for start in range(0, len(metrics), QUERIES_PER_CALL):
        chunk = metrics[start : start + QUERIES_PER_CALL]
        queries = [
            {
                "Id": f"q{start + i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
                    },
                    "Period": period,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
            for i, (namespace, name, dimensions) in enumerate(chunk)
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
                    found[int(str(result["Id"])[1:])].extend(points)
                token = page.get("NextToken")
                if not token:
                    break
    return [sorted(points, reverse=True) for points in found]


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
