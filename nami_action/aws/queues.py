"""SQS reads: how many webhooks wait in a queue (used to refuse changes that lose them)."""

from __future__ import annotations

from dataclasses import dataclass

import botocore.exceptions

from nami_action.aws.session import Aws, error_code, translate_errors

DEPTH_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def queue_depth(aws: Aws, queue_url: str) -> QueueDepth | None:
    """Messages held by the queue, or None if the queue no longer exists."""
    with translate_errors(f"reading the depth of {queue_url}"):
        try:
            attributes = aws.client("sqs").get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=DEPTH_ATTRIBUTES
            )["Attributes"]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                return None
            raise
    return QueueDepth(
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    )
