"""Builders for envelopes and SQS events (a plain module: importable from any runtime test)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import boto3


def envelope(
    body: bytes = b"{}",
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "v": 1,
        "id": request_id or f"req-{uuid.uuid4().hex[:8]}",
        "receivedAt": 1_700_000_000_123,
        "sourceIp": "203.0.113.9",
        "method": "POST",
        "path": "/hooks/github",
        "query": {"tenant": "acme"},
        "headers": headers or {"Content-Type": "application/json"},
        "body": base64.b64encode(body).decode(),
        **extra,
    }


def record(body: dict[str, Any] | str, message_id: str | None = None) -> dict[str, Any]:
    """One record as Lambda's SQS event source delivers it."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEB-handle",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000123"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:acme-github",
        "awsRegion": "us-east-1",
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def dead_letters(queue_url: str) -> list[dict[str, Any]]:
    """Every message in the queue (received once each: the test owns it)."""
    sqs = boto3.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            VisibilityTimeout=300,
        )
        if not answer.get("Messages"):
            return found
        found += answer["Messages"]
