"""`ingress: function-url`: the ingest function behind a Lambda function URL.

Lambda entry point `nami_runtime.ingest.handler`. Unlike the API Gateway kinds it can check the
signature before anything is stored (401 to the sender: nothing invalid reaches the queue),
answer provider handshakes, and it writes the same envelope (version 1) to SQS. It answers 2xx
only after SendMessage succeeded: 413 when the envelope is larger than the queue takes, 503
when SQS failed, so a sender retries what may still succeed.

Function URL events are payload format 2.0: lower-case header names, several values of one
header joined by commas, the body base64 when `isBase64Encoded`.
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import load_config
from .dedupe import lookup, parse_json_path
from .secrets import resolve
from .verify import VerifySettings, verify
from .webhook import ENVELOPE_VERSION, Headers

QUEUE_URL_ENV = "NAMI_QUEUE_URL"
MAX_SIZE_ENV = "NAMI_MAX_MESSAGE_SIZE"
GROUP_BY_ENV = "NAMI_GROUP_BY"
FIFO_GROUP = "nami"
GROUP_ID = re.compile(r"^[!-~]{1,128}$")  # what SQS accepts as a MessageGroupId
# Zoom's endpoint.url_validation asks for HMAC(secret, plainToken): an HMAC oracle. It is
# answered only where no plainToken can be a signed message: these schemes sign
# "<timestamp>.<body>", "v0:<timestamp>:<body>" or "<id>.<timestamp>.<body>", and a token
# holds no "." or ":". Under github, shopify (which sign the bare body) it is refused.
ZOOM_SAFE_SCHEMES = ("stripe", "slack", "standard-webhooks", "svix")
ZOOM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# SNS confirms a subscription through SubscribeURL: fetched only on SNS's own HTTPS host, and
# only for a `verify.scheme: sns` pipeline once the message's signature and topic checked out.
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")


@dataclass(frozen=True)
class Answer:
    status: int
    body: str = ""
    content_type: str = "application/json"

    def as_lambda(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": {"content-type": self.content_type},
            "body": self.body,
        }


def json_answer(status: int, data: Mapping[str, Any]) -> Answer:
    return Answer(status, json.dumps(data, separators=(",", ":")))


@dataclass(frozen=True)
class Ingest:
    """One container's settings: what verifies, where it stores."""

    settings: VerifySettings | None
    send: Callable[[str, str, str], None]  # (body, dedup id, group); raises if not stored
    max_message_size: int
    fetch: Callable[[str], None] = lambda url: None
    group_by: str | None = None  # queue.group_by of a FIFO pipeline

    def __call__(self, event: Mapping[str, Any]) -> Answer:
        prepared = self.prepare(event)
        if isinstance(prepared, Answer):
            return prepared
        text, request_id, group = prepared
        try:
            self.send(text, request_id, group)
        except Exception:  # any failure to store must make the sender retry
            return json_answer(503, {"message": "not stored, retry"})
        return json_answer(202, {"id": request_id})

    def prepare(self, event: Mapping[str, Any]) -> Answer | tuple[str, str, str]:
        """The answer without storing anything, or (envelope, request id, group) to store
        (`nami dev` stores through its own queue)."""
        http = event.get("requestContext", {}).get("http", {})
        method = str(http.get("method", "POST")).upper()
        headers = Headers({str(k): str(v) for k, v in (event.get("headers") or {}).items()})
        query = {str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()}
        if method == "GET":
            return self.subscribe_challenge(query)
        if method != "POST":
            return json_answer(405, {"message": "only POST"})
        body = _body(event)
        received_ms = int(event.get("requestContext", {}).get("timeEpoch", 0))
        data = _json_object(body)
        # Zoom signs this with a key no nami scheme checks: answered before verify(), guarded
        # so the answer gives a forger nothing (see zoom).
        if data.get("event") == "endpoint.url_validation":
            return self.zoom(data)
        if "SubscriptionConfirmation" in (headers.get("x-amz-sns-message-type"), data.get("Type")):
            return self.sns_confirm(headers, body, received_ms, data)
        if self.settings is not None:
            result = verify(self.settings, headers, body, received_ms / 1000)
            if not result.ok:
                return json_answer(401, {"message": f"signature rejected: {result.reason}"})
        if data.get("type") == "url_verification" and isinstance(data.get("challenge"), str):
            return Answer(200, data["challenge"], "text/plain")  # Slack, signed like any event
        return self.envelope(event, method, headers, query, body, received_ms)

    def subscribe_challenge(self, query: Mapping[str, str]) -> Answer:
        """Meta / WhatsApp: GET ?hub.mode=subscribe&hub.verify_token=<secret>&hub.challenge=x.
        The verify token is the pipeline's secret (a GET carries no signature)."""
        secret = self.settings.secret if self.settings else None
        token = query.get("hub.verify_token", "")
        if query.get("hub.mode") != "subscribe" or not secret or "hub.challenge" not in query:
            return json_answer(405, {"message": "only POST"})
        if not hmac.compare_digest(token.encode(), secret.encode()):
            return json_answer(403, {"message": "verify token mismatch"})
        return Answer(200, query["hub.challenge"], "text/plain")

    def zoom(self, data: Mapping[str, Any]) -> Answer:
        payload = data.get("payload")
        token = payload.get("plainToken") if isinstance(payload, dict) else None
        settings = self.settings
        if (
            settings is None
            or not settings.secret
            or settings.scheme not in ZOOM_SAFE_SCHEMES
            or not isinstance(token, str)
            or not ZOOM_TOKEN.fullmatch(token)
        ):
            return json_answer(400, {"message": "url validation not answered for this pipeline"})
        digest = hmac.new(settings.secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        return json_answer(200, {"plainToken": token, "encryptedToken": digest})

    def sns_confirm(
        self, headers: Headers, body: bytes, received_ms: int, data: Mapping[str, Any]
    ) -> Answer:
        """Subscribe only where the pipeline verifies SNS (signature, allowed TopicArn)."""
        if self.settings is None or self.settings.scheme != "sns":
            return json_answer(
                400, {"message": "SNS subscriptions are confirmed only with verify.scheme sns"}
            )
        result = verify(self.settings, headers, body, received_ms / 1000)
        if not result.ok:
            return json_answer(401, {"message": f"signature rejected: {result.reason}"})
        url = data.get("SubscribeURL")
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme != "https" or not SNS_HOST.fullmatch(parts.hostname or ""):
            return json_answer(400, {"message": "SubscribeURL is not an SNS https URL"})
        try:
            self.fetch(str(url))
        except OSError:
            return json_answer(502, {"message": "could not confirm the subscription"})
        return json_answer(200, {"message": "subscription confirmed"})

    def envelope(
        self,
        event: Mapping[str, Any],
        method: str,
        headers: Headers,
        query: Mapping[str, str],
        body: bytes,
        received_ms: int,
    ) -> Answer | tuple[str, str, str]:
        context = event.get("requestContext", {})
        request_id = str(context.get("requestId", ""))
        envelope = {
            "v": ENVELOPE_VERSION,
            "id": request_id,
            "receivedAt": received_ms,
            "sourceIp": str(context.get("http", {}).get("sourceIp", "")),
            "method": method,
            "path": str(event.get("rawPath", "/")),
            "query": dict(query),
            "headers": dict(headers.items()),
            "body": base64.b64encode(body).decode("ascii"),
        }
        text = json.dumps(envelope, separators=(",", ":"), ensure_ascii=True)
        if len(text.encode()) > self.max_message_size:
            return json_answer(413, {"message": "webhook too large for the queue"})
        return text, request_id, message_group(self.group_by, headers, body)


def message_group(group_by: str | None, headers: Headers, body: bytes) -> str:
    """The FIFO MessageGroupId, as the REST kind's mapping picks it: the key `group_by` names
    when the request has one SQS accepts, else the one default group (never a failure)."""
    if not group_by:
        return FIFO_GROUP
    source, _, where = group_by.partition(":")
    if source == "header":
        key = headers.get(where, "").strip()
    else:
        try:
            found = lookup(json.loads(body), parse_json_path(where))
        except ValueError:  # not JSON (UnicodeDecodeError included)
            found = None
        usable = isinstance(found, str | int) and not isinstance(found, bool)
        key = str(found) if usable else ""
    return key if GROUP_ID.fullmatch(key) else FIFO_GROUP


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _body(event: Mapping[str, Any]) -> bytes:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(raw)
    return str(raw).encode("utf-8")


def sqs_sender(queue_url: str, fifo: bool) -> Callable[[str, str, str], None]:
    import boto3  # lazily: the runtime is stdlib-only until it talks to AWS

    client: Any = boto3.client("sqs")

    def send(body: str, request_id: str, group: str) -> None:
        if fifo:
            client.send_message(
                QueueUrl=queue_url,
                MessageBody=body,
                MessageGroupId=group,
                MessageDeduplicationId=request_id,
            )
        else:
            client.send_message(QueueUrl=queue_url, MessageBody=body)

    return send


def fetch_url(url: str) -> None:
    with urllib.request.urlopen(url, timeout=5) as answer:  # https on SNS's host only
        answer.read()


def build_ingest(env: Mapping[str, str]) -> Ingest:
    from .entry import read_verify

    config = load_config(env)
    queue_url = env[QUEUE_URL_ENV]
    settings = read_verify(config.verify, resolve) if config.verify else None
    return Ingest(
        settings=settings,
        send=sqs_sender(queue_url, queue_url.endswith(".fifo")),
        max_message_size=int(env.get(MAX_SIZE_ENV, "1048576")),
        fetch=fetch_url,
        group_by=env.get(GROUP_BY_ENV) or None,
    )


_INGEST: Ingest | None = None


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """What Lambda calls for each request to the function URL."""
    global _INGEST
    if _INGEST is None:
        _INGEST = build_ingest(os.environ)
    return _INGEST(event).as_lambda()
