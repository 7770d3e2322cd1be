"""The ingest function behind a function URL: every scheme verifies at the edge (401, nothing
stored), every handshake, the same envelope in moto's SQS, 5xx when SQS fails, 413 too large.
Signatures are computed here with hmac (not nami's code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from nami_action.runtime import ingest
from nami_action.runtime.ingest import Ingest, build_ingest, sqs_sender
from nami_action.runtime.verify import VerifySettings
from nami_action.runtime.webhook import decode_envelope

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()  # valid for every scheme
NOW = 1_700_000_000
BODY = b'{"id":"evt_1","name":"Zo\xc3\xab"}'
SCHEMES = ["github", "shopify", "stripe", "slack", "standard-webhooks"]


def sign(scheme: str, body: bytes) -> dict[str, str]:
    key = SECRET.encode()
    if scheme == "github":
        return {"x-hub-signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()}
    if scheme == "shopify":
        raw = hmac.new(key, body, hashlib.sha256).digest()
        return {"x-shopify-hmac-sha256": base64.b64encode(raw).decode()}
    if scheme == "stripe":
        digest = hmac.new(key, f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
        return {"stripe-signature": f"t={NOW},v1={digest}"}
    if scheme == "slack":
        digest = hmac.new(key, f"v0:{NOW}:".encode() + body, hashlib.sha256).hexdigest()
        return {"x-slack-request-timestamp": str(NOW), "x-slack-signature": f"v0={digest}"}
    std = base64.b64decode(SECRET.removeprefix("whsec_"))
    raw = hmac.new(std, f"m1.{NOW}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": "m1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": "v1," + base64.b64encode(raw).decode(),
    }


def event(
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    query: dict[str, str] | None = None,
    binary: bool = True,
) -> dict[str, Any]:
    """A function URL event, payload format 2.0."""
    return {
        "version": "2.0",
        "rawPath": "/hooks",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", **(headers or {})},
        "queryStringParameters": query,
        "requestContext": {
            "requestId": "req-1",
            "timeEpoch": NOW * 1000 + 5,
            "http": {"method": method, "path": "/hooks", "sourceIp": "203.0.113.9"},
        },
        "body": base64.b64encode(body).decode() if binary else body.decode(),
        "isBase64Encoded": binary,
    }


@pytest.fixture
def queue(emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    sqs = boto3.client("sqs")
    yield sqs.create_queue(QueueName="acme-hooks")["QueueUrl"]


def stored(queue_url: str) -> list[str]:
    answer = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [m["Body"] for m in answer.get("Messages", [])]


def make(queue_url: str, scheme: str = "github", size: int = 1_048_576) -> Ingest:
    settings = None if scheme == "none" else VerifySettings(scheme, SECRET)
    return Ingest(settings, sqs_sender(queue_url, fifo=False), size)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_scheme_is_verified_at_the_edge_and_stored_as_the_envelope(
    queue: str, scheme: str
) -> None:
    answer = make(queue, scheme)(event(headers=sign(scheme, BODY)))
    assert (answer.status, json.loads(answer.body)) == (202, {"id": "req-1"})
    (text,) = stored(queue)
    webhook = decode_envelope(text)
    assert webhook.body == BODY
    assert webhook.id == "req-1"
    assert webhook.raw["receivedAt"] == NOW * 1000 + 5
    assert webhook.path == "/hooks" and webhook.source_ip == "203.0.113.9"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_bad_signature_gets_401_and_nothing_is_stored(queue: str, scheme: str) -> None:
    answer = make(queue, scheme)(event(BODY + b" ", headers=sign(scheme, BODY)))
    assert answer.status == 401
    assert "signature rejected" in answer.body
    assert stored(queue) == []


def test_binary_body_and_query_are_carried_byte_exact(queue: str) -> None:
    body = bytes(range(256))
    answer = make(queue)(event(body, sign("github", body), query={"tenant": "a,b"}))
    assert answer.status == 202
    webhook = decode_envelope(stored(queue)[0])
    assert webhook.body == body and webhook.query == {"tenant": "a,b"}


def test_slack_url_verification_is_answered_once_signed(queue: str) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"type": "url_verification", "challenge": challenge}).encode()
    answer = make(queue, "slack")(event(body, sign("slack", body)))
    assert (answer.status, answer.content_type) == (200, "text/plain")
    assert answer.body == challenge
    assert make(queue, "slack")(event(body, {})).status == 401  # unsigned: no challenge
    assert stored(queue) == []


def test_zoom_url_validation_answers_the_hmac_of_the_plain_token(queue: str) -> None:
    body = b'{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"}}'
    answer = make(queue, "stripe")(event(body))
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert answer.status == 200
    assert json.loads(answer.body) == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": expected,
    }
    assert stored(queue) == []


@pytest.mark.parametrize(
    ("scheme", "token"),
    [("github", "qgg8vlvZRS6UYooatFL8Aw"), ("stripe", '{"id":"evt_1"}'), ("none", "abc")],
)
def test_zoom_validation_is_never_a_signing_oracle(queue: str, scheme: str, token: str) -> None:
    """Under github the HMAC of a token would sign a body equal to it: refused."""
    body = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": token}})
    answer = make(queue, scheme)(event(body.encode()))
    assert answer.status == 400
    assert "encryptedToken" not in answer.body


def test_meta_subscribe_challenge_needs_the_verify_token(queue: str) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": SECRET, "hub.challenge": "1158201444"}
    answer = make(queue)(event(b"", method="GET", query=query))
    assert (answer.status, answer.body, answer.content_type) == (200, "1158201444", "text/plain")
    wrong = make(queue)(event(b"", method="GET", query={**query, "hub.verify_token": "guess"}))
    assert wrong.status == 403 and "1158201444" not in wrong.body
    assert make(queue)(event(b"", method="GET")).status == 405
    assert stored(queue) == []


def test_sns_subscription_is_not_confirmed_for_another_scheme(queue: str) -> None:
    """Only a `verify.scheme: sns` pipeline confirms, once signature and topic checked out
    (tests/runtime/test_sns.py); any other pipeline refuses and fetches nothing."""
    seen: list[str] = []
    ingest_fn = Ingest(
        VerifySettings("github", SECRET), sqs_sender(queue, False), 1_048_576, seen.append
    )
    url = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"
    body = json.dumps({"Type": "SubscriptionConfirmation", "SubscribeURL": url}).encode()
    for headers in ({"x-amz-sns-message-type": "SubscriptionConfirmation"}, {}):
        assert ingest_fn(event(body, headers)).status == 400
    assert seen == []
    assert stored(queue) == []


def test_sqs_failure_answers_503(queue: str) -> None:
    send = sqs_sender(queue, fifo=False)
    boto3.client("sqs").delete_queue(QueueUrl=queue)
    answer = Ingest(VerifySettings("github", SECRET), send, 1_048_576)(
        event(headers=sign("github", BODY))
    )
    assert answer.status == 503


def test_an_envelope_larger_than_the_queue_takes_answers_413(queue: str) -> None:
    body = b"x" * 3000
    answer = make(queue, size=4096)(event(body, sign("github", body)))
    assert answer.status == 413
    assert stored(queue) == []
    small = make(queue, size=4096)(event(b"x" * 1000, sign("github", b"x" * 1000)))
    assert small.status == 202


def test_the_lambda_handler_reads_its_settings_from_the_environment(
    queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/acme/gh", Value=SECRET, Type="SecureString")
    config = {
        "pipeline": "gh",
        "stack": "acme-gh",
        "mode": "webhook",
        "handler": "handler.handle",
        "verify": {"scheme": "github", "secret": "ssm:/acme/gh"},
    }
    monkeypatch.setenv("NAMI_CONFIG", json.dumps(config))
    monkeypatch.setenv("NAMI_QUEUE_URL", queue)
    monkeypatch.setattr(ingest, "_INGEST", None)
    answer = ingest.handler(event(headers=sign("github", BODY)), None)
    assert answer["statusCode"] == 202
    assert decode_envelope(stored(queue)[0]).body == BODY
    assert build_ingest({"NAMI_CONFIG": json.dumps(config), "NAMI_QUEUE_URL": queue})


@pytest.mark.parametrize(
    ("group_by", "headers", "body", "group"),
    [
        ("header:X-Order-Id", {"x-order-id": "o-7"}, b"{}", "o-7"),
        ("header:X-Order-Id", {}, b"{}", "nami"),  # missing: the default group, never a failure
        ("json:$.order.id", {}, b'{"order":{"id":42}}', "42"),
        ("json:$.order.id", {}, b"a=1", "nami"),
        ("json:$.order.id", {}, b'{"order":{"id":"caf\xc3\xa9"}}', "nami"),  # SQS would refuse
        ("json:$.order.id", {}, b'{"order":{"id":"o-7\\n"}}', "nami"),  # `$` before a newline
    ],
)
def test_fifo_group_is_picked_as_the_rest_kind_picks_it(
    emulator: str,
    monkeypatch: pytest.MonkeyPatch,
    group_by: str,
    headers: dict[str, str],
    body: bytes,
    group: str,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="acme-orders.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    ingest_fn = Ingest(None, sqs_sender(url, fifo=True), 1_048_576, group_by=group_by)
    assert ingest_fn(event(body, headers)).status == 202
    answer = sqs.receive_message(QueueUrl=url, AttributeNames=["MessageGroupId"])
    (message,) = answer["Messages"]
    assert message["Attributes"]["MessageGroupId"] == group
    assert decode_envelope(message["Body"]).body == body
