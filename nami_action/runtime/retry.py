"""The retry schedule: how long a failed webhook waits before its next attempt.

Lambda leaves a record reported in batchItemFailures hidden until the queue's visibility
timeout ends, so without a schedule every retry comes after the same delay. With one, the
runtime sets each failed record's visibility to the delay for its attempt
(ChangeMessageVisibility) before reporting it; `nami dev`, `nami validate` and `nami plan`
use the same functions, so the local queue, the checks and the plan agree with the Lambda.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

# A message's visibility may total 12 hours from the receive that returned it: "If you try
# to extend the visibility timeout beyond the maximum, your request is rejected".
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
# The runtime calls it after the batching window (at most 300 s) and the invocation (at most
# 900 s) have already used part of that, so a delay stays below 12 h by both.
MAX_VISIBILITY = 12 * 3600
MAX_DELAY = MAX_VISIBILITY - 300 - 900
BACKOFFS = ("exponential", "fixed")
# Without a schedule, a destination's Retry-After is honoured up to an hour (with one, up to
# its `max`): a destination must not be able to park webhooks until they expire.
RETRY_AFTER_CAP = 3600


@dataclass(frozen=True)
class RetrySchedule:
    """`consumer.retry` from nami.yaml, in seconds."""

    backoff: str = "exponential"
    initial: int = 10
    maximum: int = 3600

    def delay(self, attempt: int) -> int:
        """Seconds to wait after failed attempt number `attempt` (1 = the first delivery)."""
        if self.backoff == "fixed":
            wanted = self.initial
        else:
            # Doubling stops at `maximum`; the exponent is bounded so huge counts stay cheap.
            wanted = min(self.initial * 2 ** min(max(attempt, 1) - 1, 32), self.maximum)
        return max(0, min(wanted, MAX_DELAY))

    def to_json(self) -> dict[str, Any]:
        return {"backoff": self.backoff, "initial": self.initial, "max": self.maximum}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RetrySchedule:
        """NAMI_CONFIG's `retry`; ValueError when it is not what the compiler writes."""
        backoff, initial, maximum = data.get("backoff"), data.get("initial"), data.get("max")
        if backoff not in BACKOFFS:
            raise ValueError(f"retry.backoff must be one of {BACKOFFS}, got {backoff!r}")
        for name, value in (("initial", initial), ("max", maximum)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"retry.{name} must be a number of seconds, got {value!r}")
        return cls(str(backoff), int(str(initial)), int(str(maximum)))


def retry_delay(
    schedule: RetrySchedule | None, attempt: int, retry_after: int | None = None
) -> int | None:
    """Seconds until the next attempt: the schedule's delay, no sooner than a destination's
    Retry-After (capped); None: nothing to change (the queue's visibility timeout applies)."""
    if retry_after is None:
        return None if schedule is None else schedule.delay(attempt)
    cap = RETRY_AFTER_CAP if schedule is None else schedule.maximum
    wanted = min(max(retry_after, 0), cap, MAX_DELAY)
    return wanted if schedule is None else max(schedule.delay(attempt), wanted)


def horizon(delays: Callable[[int], int], attempts: int) -> int:
    """Seconds from the first delivery to the last of `attempts` (the waits between them)."""
    return sum(delays(attempt) for attempt in range(1, attempts))


def queue_url(event_source_arn: str) -> str | None:
    """The SQS queue URL of an event source ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`)."""
    parts = event_source_arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", parts[1], "sqs"] or not all(parts[3:]):
        return None
    partition, region, account, name = parts[1], parts[3], parts[4], parts[5]
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{domain}/{account}/{name}"


class SqsRetries:
    """Hides each failed record for its scheduled delay (ChangeMessageVisibility)."""

    def __init__(
        self, schedule: RetrySchedule | None, client: Callable[[], Any] | None = None
    ) -> None:
        self.schedule = schedule
        self._client_factory = client or _boto3_sqs

    @cached_property
    def client(self) -> Any:  # made on the first failure: most batches never need it
        return self._client_factory()

    def postpone(self, record: Mapping[str, Any], retry_after: int | None = None) -> int | None:
        """Hide the record for its delay; return the delay (None: left to the visibility
        timeout). Raises when SQS refused it: the record is then still reported failed and
        retries after the queue's visibility timeout."""
        attributes = record.get("attributes") or {}
        count = str(attributes.get("ApproximateReceiveCount", "1"))
        delay = retry_delay(self.schedule, int(count) if count.isdigit() else 1, retry_after)
        if delay is None:
            return None
        url = queue_url(str(record.get("eventSourceARN", "")))
        handle = record.get("receiptHandle")
        if url is None or not isinstance(handle, str) or not handle:
            raise ValueError("the record names no queue or receipt handle")
        self.client.change_message_visibility(
            QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=delay
        )
        return delay


def _boto3_sqs() -> Any:
    import boto3  # lazy: the Lambda runtime provides it

    return boto3.client("sqs")
