"""CloudWatch reads of SQS queue metrics: the age of the oldest webhook (`nami status`) and
how many webhooks each queue received (`nami plan --traffic`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from nami_action.aws.session import Aws, translate_errors

WINDOW = timedelta(minutes=5)
PERIOD = 60  # seconds; SQS publishes its metrics every minute
QUERIES_PER_CALL = 500  # GetMetricData's limit

Points = list[tuple[datetime, float]]


Metric = tuple[str, str, list[tuple[str, str]]]  # namespace, name, dimensions (name, value)


@dataclass(frozen=True)
class Unread:
    """A metric CloudWatch did not answer in full, though the call succeeded."""

    why: str


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
    end, newest first, in the order asked; a metric CloudWatch did not answer in full has what
    it answered (for display: `nami status`, `--traffic`)."""
    found = metric_reads(aws, metrics, statistic, window, doing)
    return [[] if isinstance(points, Unread) else points for points in found]


def metric_reads(
    aws: Aws,
    metrics: list[Metric],
    statistic: tuple[str, int],
    window: tuple[datetime, datetime],
    doing: str,
) -> list[Points | Unread]:
    """As metric_points, but a metric not answered in full is Unread. One GetMetricData call
    answers up to 500 metrics; its pages are followed."""
    pages: list[dict[str, Any]] = []
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
                pages.append(page)
                token = page.get("NextToken")
                if not token:
                    break
    return points_of(pages, len(metrics))


def points_of(pages: Iterable[dict[str, Any]], count: int) -> list[Points | Unread]:
    """Each metric's datapoints from all pages of GetMetricData answers, newest first, or
    Unread where its last page's StatusCode is not Complete. A 200 answer may still report,
    per metric, InternalError, Forbidden or PartialData (more behind NextToken, which the
    pages follow; PartialData on the last page is an incomplete count).
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataResult.html
    The emulator sends Complete (moto 5.2); a result without StatusCode counts as Complete."""
    found: list[Points] = [[] for _ in range(count)]
    status = ["Complete"] * count
    for page in pages:
        for result in page.get("MetricDataResults", []):
            index = int(str(result["Id"])[1:])
            points = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
            found[index].extend(points)
            status[index] = str(result.get("StatusCode") or "Complete")
    return [
        sorted(points, reverse=True)
        if code == "Complete"
        else Unread(f"CloudWatch answered {code} for its metric")
        for points, code in zip(found, status, strict=True)
    ]


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
