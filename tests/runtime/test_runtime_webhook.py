"""Envelope decoding: byte-exact bodies, case-insensitive headers, malformed input refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from nami_action.runtime import Headers, MalformedEnvelope, Webhook, decode_envelope

from .runtime_builders import envelope

ALL_BYTES = bytes(range(256)) * 3 + b"\r\n\x00\xff\xfe"


def decode(data: dict[str, object]) -> Webhook:
    return decode_envelope(json.dumps(data), "msg-1", 2)


def test_binary_body_is_byte_exact() -> None:
    webhook = decode(envelope(ALL_BYTES))
    assert webhook.body == ALL_BYTES
    assert webhook.message_id == "msg-1" and webhook.receive_count == 2


def test_empty_body() -> None:
    webhook = decode(envelope(b""))
    assert webhook.body == b""
    assert webhook.text() == ""


def test_fields() -> None:
    webhook = decode(envelope(b"{}", request_id="abc-123"))
    assert webhook.id == "abc-123"
    assert webhook.received_at == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert webhook.source_ip == "203.0.113.9"
    assert (webhook.method, webhook.path) == ("POST", "/hooks/github")
    assert webhook.query == {"tenant": "acme"}


def test_headers_are_case_insensitive_and_keep_spelling() -> None:
    webhook = decode(envelope(headers={"X-GitHub-Event": "push", "content-type": "text/plain"}))
    assert webhook.headers["x-github-event"] == "push"
    assert webhook.headers["X-GITHUB-EVENT"] == "push"
    assert webhook.headers.get("Content-Type") == "text/plain"
    assert "X-Github-Event" in webhook.headers and "X-Missing" not in webhook.headers
    assert sorted(webhook.headers) == ["X-GitHub-Event", "content-type"]
    assert len(webhook.headers) == 2
    with pytest.raises(KeyError):
        webhook.headers["nope"]


def test_headers_mapping_equality() -> None:
    assert Headers({"A": "1"}) == {"A": "1"}


def test_text_json_form() -> None:
    payload = {"name": "Zoë", "n": [1, 2]}
    assert decode(envelope(json.dumps(payload).encode())).json() == payload
    assert decode(envelope("héllo ✓".encode())).text() == "héllo ✓"
    form = decode(envelope(b"a=1&a=2&empty=&name=Zo%C3%AB+K")).form()
    assert form == {"a": ["1", "2"], "empty": [""], "name": ["Zoë K"]}


def test_json_on_non_json_body_raises() -> None:
    with pytest.raises(ValueError):
        decode(envelope(b"a=1")).json()


def test_null_query_and_headers_are_empty() -> None:
    webhook = decode(envelope() | {"query": None, "headers": None})
    assert webhook.query == {} and len(webhook.headers) == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "body is not JSON"),
        ("[1, 2]", "envelope is not a JSON object"),
        (json.dumps(envelope() | {"v": 2}), "unsupported envelope version 2"),
        (json.dumps(envelope() | {"id": 5}), "'id' must be a string"),
        (json.dumps(envelope() | {"receivedAt": "yesterday"}), "'receivedAt' must be integer"),
        (json.dumps(envelope() | {"receivedAt": True}), "'receivedAt' must be integer"),
        (json.dumps(envelope() | {"receivedAt": 10**20}), "'receivedAt' is out of range"),
        (json.dumps(envelope() | {"headers": {"a": 1}}), "'headers' must map strings"),
        (json.dumps(envelope() | {"body": "%%%"}), "'body' is not valid base64"),
        (json.dumps(envelope() | {"body": 12}), "'body' must be a base64 string"),
    ],
)
def test_malformed(body: str, reason: str) -> None:
    with pytest.raises(MalformedEnvelope) as caught:
        decode_envelope(body)
    assert str(caught.value).startswith(reason)


def test_base64_is_not_silently_lenient() -> None:
    # b64decode without validate would drop the "!" and return a different body.
    good = base64.b64encode(b"abc").decode()
    with pytest.raises(MalformedEnvelope):
        decode(envelope() | {"body": good[:2] + "!" + good[2:]})
