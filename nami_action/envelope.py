"""The envelope: one received HTTP request as the JSON body of one SQS message.

API Gateway builds it in VTL (nami_action.compile.mapping); this is the Python twin, used by
the local dev server (`nami dev`) to enqueue exactly what AWS would, and by the CLI
(`nami dlq peek`) to read messages back. The consumer Lambda decodes it with
nami_action.runtime.webhook, which this module reuses so there is one reader.

    {"v": 1, "id": <API Gateway's extendedRequestId>, "receivedAt": <epoch ms>, "sourceIp": "...",
     "method": "POST", "path": "/prod/hooks/github", "query": {name: value},
     "headers": {name: value}, "body": <standard base64 of the exact request bytes>}
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from nami_action.runtime.webhook import ENVELOPE_VERSION, MalformedEnvelope
from nami_action.runtime.webhook import decode_envelope as _decode_webhook

__all__ = [
    "ENVELOPE_VERSION",
    "IncomingRequest",
    "MalformedEnvelope",
    "build_envelope",
    "decode_envelope",
    "encode_envelope",
]


@dataclass(frozen=True)
class IncomingRequest:
    """What API Gateway knows about a request when the mapping template runs."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    source_ip: str = ""
    # $context.extendedRequestId: made by API Gateway, unlike $context.requestId, which a
    # client can set with x-amzn-RequestId. The envelope id and the FIFO deduplication id.
    request_id: str = ""
    received_at_ms: int = 0

    @classmethod
    def received_now(
        cls,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        source_ip: str = "127.0.0.1",
    ) -> IncomingRequest:
        """A request just received locally: fresh id and timestamp, as API Gateway assigns."""
        return cls(
            method=method,
            path=path,
            query=dict(query or {}),
            headers=dict(headers or {}),
            body=body,
            source_ip=source_ip,
            request_id=str(uuid.uuid4()),
            received_at_ms=time.time_ns() // 1_000_000,
        )


def build_envelope(req: IncomingRequest) -> dict[str, Any]:
    """The envelope as a dict, keys in the order the VTL writes them."""
    return {
        "v": ENVELOPE_VERSION,
        "id": req.request_id,
        "receivedAt": req.received_at_ms,
        "sourceIp": req.source_ip,
        "method": req.method,
        "path": req.path,
        "query": dict(req.query),
        "headers": dict(req.headers),
        "body": base64.b64encode(req.body).decode("ascii"),
    }


def encode_envelope(req: IncomingRequest) -> str:
    """The SQS message body: compact, ASCII-only JSON (valid in any SQS message)."""
    return json.dumps(build_envelope(req), separators=(",", ":"), ensure_ascii=True)


def decode_envelope(text: str) -> IncomingRequest:
    """Read an SQS message body back; raises MalformedEnvelope with a short reason."""
    webhook = _decode_webhook(text)
    # The runtime validated these fields; read them raw to keep the exact milliseconds and
    # headers whose names differ only in case (its Headers view folds case).
    received_at_ms: int = webhook.raw["receivedAt"]
    headers: dict[str, str] = dict(webhook.raw.get("headers") or {})
    return IncomingRequest(
        method=webhook.method,
        path=webhook.path,
        query=dict(webhook.query),
        headers=headers,
        body=webhook.body,
        source_ip=webhook.source_ip,
        request_id=webhook.id,
        received_at_ms=received_at_ms,
    )
