"""SQS: how many webhooks wait in a queue (used to refuse changes that lose them), and the
receive/copy/delete/move calls behind `nami dlq`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def queue_url(aws: Aws, name: str) -> str | None:
    """The URL of the queue with this name in the region, or None if there is none."""
    with translate_errors(f"looking up queue {name}"):
        try:
            return str(aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                return None
            raise


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


# --- reading, copying and deleting messages (nami dlq) -------------------------------------

BATCH = 10  # the most SQS takes or gives in one call
# What an endpoint answers when it has no StartMessageMoveTask (older partitions, emulators)
# or refuses it for this queue (FIFO queues in some regions).
MOVE_TASK_UNSUPPORTED_CODES = {
    "UnknownOperation",
    "UnknownOperationException",
    "InvalidAction",
    "NotImplemented",
    "UnsupportedOperation",
    "AWS.SimpleQueueService.UnsupportedOperation",
}


@dataclass(frozen=True)
class QueueMessage:
    """One received message: its id, the receipt handle of this receive, body, attributes."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str]
    message_attributes: dict[str, dict[str, str]]

    @property
    def receive_count(self) -> int:
        return int(self.attributes.get("ApproximateReceiveCount", "0") or 0)

    @property
    def group_id(self) -> str | None:
        return self.attributes.get("MessageGroupId")


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send; `key` names it in the batch answer (unique within one batch)."""

    key: str
    body: str
    message_attributes: dict[str, dict[str, str]]
    group_id: str | None = None
    deduplication_id: str | None = None


def queue_attributes(aws: Aws, queue_url: str) -> dict[str, str]:
    with translate_errors(f"reading the attributes of {queue_url}"):
        answer = aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    return dict(answer.get("Attributes", {}))


def receive_messages(
    aws: Aws, queue_url: str, *, max_messages: int, visibility_timeout: int, wait_seconds: int
) -> list[QueueMessage]:
    """Receive up to `max_messages` (<= 10), hidden from others for `visibility_timeout` s.
    Long polling (`wait_seconds` >= 1) asks every SQS server, so an empty answer means empty."""
    with translate_errors(f"receiving messages from {queue_url}"):
        answer = aws.client("sqs").receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=max(1, min(BATCH, max_messages)),
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
    return [
        QueueMessage(
            message_id=raw["MessageId"],
            receipt_handle=raw["ReceiptHandle"],
            body=raw.get("Body", ""),
            attributes=dict(raw.get("Attributes", {})),
            message_attributes={
                name: {k: v for k, v in value.items() if k in ("DataType", "StringValue")}
                for name, value in (raw.get("MessageAttributes") or {}).items()
            },
        )
        for raw in answer.get("Messages", [])
    ]


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def release_messages(aws: Aws, queue_url: str, receipt_handles: list[str]) -> int:
    """Make received messages visible again at once (visibility timeout 0).
    Returns how many could not be released (a stale handle: they reappear on their own)."""
    failed = 0
    sqs = aws.client("sqs")
    for chunk in _chunks(receipt_handles):
        entries = [
            {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for i, handle in enumerate(chunk)
        ]
        with translate_errors(f"releasing messages in {queue_url}"):
            answer = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        failed += len(answer.get("Failed", []))
    return failed


def send_messages(
    aws: Aws, queue_url: str, messages: list[OutgoingMessage]
) -> tuple[list[str], dict[str, str]]:
    """SendMessageBatch in tens. Returns (keys stored, {key: why} for those refused)."""
    stored: list[str] = []
    refused: dict[str, str] = {}
    sqs = aws.client("sqs")
    for start in range(0, len(messages), BATCH):
        chunk = messages[start : start + BATCH]
        entries: list[dict[str, Any]] = []
        for i, message in enumerate(chunk):
            entry: dict[str, Any] = {"Id": str(i), "MessageBody": message.body}
            if message.message_attributes:
                entry["MessageAttributes"] = message.message_attributes
            if message.group_id is not None:
                entry["MessageGroupId"] = message.group_id
            if message.deduplication_id is not None:
                entry["MessageDeduplicationId"] = message.deduplication_id
            entries.append(entry)
        with translate_errors(f"sending messages to {queue_url}"):
            answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        stored += [chunk[int(ok["Id"])].key for ok in answer.get("Successful", [])]
        for bad in answer.get("Failed", []):
            refused[chunk[int(bad["Id"])].key] = f"{bad.get('Code', '')}: {bad.get('Message', '')}"
    return stored, refused


def delete_messages(aws: Aws, queue_url: str, receipt_handles: list[str]) -> list[str]:
    """DeleteMessageBatch in tens; returns the receipt handles SQS refused (a handle gone
    stale because the message's visibility timeout ran out and someone received it again)."""
    refused: list[str] = []
    sqs = aws.client("sqs")
    for chunk in _chunks(receipt_handles):
        entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)]
        with translate_errors(f"deleting messages from {queue_url}"):
            answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        refused += [chunk[int(bad["Id"])] for bad in answer.get("Failed", [])]
    return refused


# --- server-side redrive: StartMessageMoveTask ---------------------------------------------


@dataclass(frozen=True)
class MoveTask:
    handle: str
    status: str  # RUNNING | COMPLETED | CANCELLING | CANCELLED | FAILED
    moved: int
    to_move: int | None
    failure: str


class _Unsupported(Exception):
    """Raised from botocore's retry hook: the endpoint does not know the operation."""


def _unsupported_answer(response: Any = None, **_: Any) -> None:
    # An AWS error is always an XML or JSON document; an HTML 5xx page is an emulator saying
    # "not implemented". Stop there instead of retrying it ten times with backoff.
    if response is None:
        return
    http = response[0]
    content_type = str(http.headers.get("content-type", ""))
    if http.status_code == 501 or (http.status_code >= 500 and "html" in content_type):
        raise _Unsupported


def _move_task_client(aws: Aws) -> Any:
    sqs = aws.client("sqs")
    for operation in ("StartMessageMoveTask", "ListMessageMoveTasks"):
        sqs.meta.events.register_first(
            f"needs-retry.sqs.{operation}", _unsupported_answer, unique_id=f"nami-{operation}"
        )
    return sqs


def _move_task_unsupported(exc: BaseException) -> bool:
    return isinstance(exc, _Unsupported) or error_code(exc) in MOVE_TASK_UNSUPPORTED_CODES


def start_message_move_task(
    aws: Aws, source_arn: str, destination_arn: str, rate: int | None
) -> str | None:
    """Start moving every message of `source_arn` to `destination_arn` inside SQS.
    Returns the task handle, or None when the endpoint cannot do it (fall back to copying)."""
    arguments: dict[str, Any] = {"SourceArn": source_arn, "DestinationArn": destination_arn}
    if rate is not None:
        arguments["MaxNumberOfMessagesPerSecond"] = rate
    with translate_errors(f"starting a message move task from {source_arn}"):
        try:
            answer = _move_task_client(aws).start_message_move_task(**arguments)
        except (_Unsupported, botocore.exceptions.ClientError) as exc:
            if _move_task_unsupported(exc):
                return None
            raise
    return str(answer["TaskHandle"])


def cancel_message_move_task(aws: Aws, handle: str) -> None:
    """Stop a running move task; what it moved stays moved (SQS API reference,
    CancelMessageMoveTask)."""
    with translate_errors("cancelling the message move task"):
        aws.client("sqs").cancel_message_move_task(TaskHandle=handle)


def message_move_tasks(aws: Aws, source_arn: str) -> list[MoveTask] | None:
    """The most recent move tasks of a queue, newest first; None if the endpoint has none."""
    with translate_errors(f"listing the message move tasks of {source_arn}"):
        try:
            answer = _move_task_client(aws).list_message_move_tasks(
                SourceArn=source_arn, MaxResults=10
            )
        except (_Unsupported, botocore.exceptions.ClientError) as exc:
            if _move_task_unsupported(exc):
                return None
            raise
    return [
        MoveTask(
            handle=str(raw.get("TaskHandle", "")),
            status=str(raw.get("Status", "")),
            moved=int(raw.get("ApproximateNumberOfMessagesMoved", 0)),
            to_move=(
                int(raw["ApproximateNumberOfMessagesToMove"])
                if "ApproximateNumberOfMessagesToMove" in raw
                else None
            ),
            failure=str(raw.get("FailureReason", "")),
        )
        for raw in answer.get("Results", [])
    ]
