"""Moving a webhook that can never succeed (rejected, malformed) to the pipeline's DLQ.

Deleting it would lose it without a trace; retrying it would only burn receives. So the
runtime sends the record body, unchanged (so `nami dlq redrive` can replay it), to the
dead-letter queue with why as message attributes, and reports the record done only after
SQS confirmed the send. What the record's own attributes say it still is goes with it
(CARRIED_ATTRIBUTES), as SQS's own redrive after `maxReceiveCount` keeps every attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .router import ROUTES_ATTRIBUTE, record_attribute, string_attributes

OUTCOME_ATTRIBUTE = "nami-outcome"
REASON_ATTRIBUTE = "nami-reason"
REASON_LIMIT = 500  # characters: a reason is a short sentence, never a payload
FIFO_GROUP = "nami"  # the ingress's group when a record carries none
# Kept when a record is moved to the DLQ: a router's put-back copy owes only some routes
# (`nami-routes`); a redrive or replay of it must go to those only, not be matched again
# into routes that already got it.
CARRIED_ATTRIBUTES = (ROUTES_ATTRIBUTE,)


class DeadLetters(Protocol):
    """Where rejected and malformed records go (the pipeline's SQS DLQ in Lambda)."""

    def send(self, record: Mapping[str, Any], outcome: str, reason: str) -> None:
        """Store the record; raise when it was not stored."""
        ...


def attributes(outcome: str, reason: str) -> dict[str, dict[str, str]]:
    """The SQS message attributes that say why a webhook is in the DLQ."""
    return string_attributes({OUTCOME_ATTRIBUTE: outcome, REASON_ATTRIBUTE: clean_reason(reason)})


def carried(record: Mapping[str, Any]) -> dict[str, str]:
    """The record's CARRIED_ATTRIBUTES that are set, name -> value."""
    found = {name: record_attribute(record, name) for name in CARRIED_ATTRIBUTES}
    return {name: value for name, value in found.items() if value}


def clean_reason(reason: str) -> str:
    """Printable and short: SQS refuses control characters in attribute values."""
    text = "".join(c if c.isprintable() else " " for c in reason).strip() or "unknown"
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


class SqsDeadLetters:
    """SendMessage to the DLQ named by NAMI_DEAD_LETTER_QUEUE_URL."""

    def __init__(self, queue_url: str, client: Callable[[], Any] | None = None) -> None:
        self.queue_url = queue_url
        self._client_factory = client or _boto3_sqs
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def send(self, record: Mapping[str, Any], outcome: str, reason: str) -> None:
        body = record.get("body")
        if not isinstance(body, str) or not body:
            raise ValueError("the record has no body to move")
        params: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MessageBody": body,
            "MessageAttributes": {
                **string_attributes(carried(record)),
                **attributes(outcome, reason),
            },
        }
        if self.queue_url.endswith(".fifo"):
            # A FIFO DLQ needs a group; the message id as deduplication id makes a resend
            # after a crash (same record, within SQS's 5 minutes) a no-op.
            # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
            source = record.get("attributes") or {}
            params["MessageGroupId"] = str(source.get("MessageGroupId") or FIFO_GROUP)
            params["MessageDeduplicationId"] = str(record.get("messageId") or "")[:128]
        self.client.send_message(**params)


def _boto3_sqs() -> Any:
    import boto3  # lazy: the Lambda runtime provides it

    return boto3.client("sqs")
