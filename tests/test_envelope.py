"""The Python envelope twin: what `nami dev` enqueues and `nami dlq peek` reads back.

That it equals the VTL output is proven in tests/compile/test_mapping.py; here: its own shape,
round trips, and that the consumer runtime reads it unchanged.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nami_action.envelope import (
    IncomingRequest,
    MalformedEnvelope,
    build_envelope,
    decode_envelope,
    encode_envelope,
)
from nami_action.runtime.webhook import decode_envelope as runtime_decode

REQ = IncomingRequest(
    method="POST",
    path="/prod/hooks/stripe",
    query={"a": "1", "it's": 'q"uote\\'},
    headers={"Content-Type": "application/x-www-form-urlencoded", "X-Emoji": "\U0001f600\n"},
    body=b"a=1&b=%20x+y&c=",
    source_ip="198.51.100.7",
    request_id="8d1f0c2e-7b61-11e6-9a41-93e8deadbeef",
    received_at_ms=1_717_171_717_123,
)


def test_build_envelope_shape() -> None:
    assert build_envelope(REQ) == {
        "v": 1,
        "id": REQ.request_id,
        "receivedAt": 1_717_171_717_123,
        "sourceIp": "198.51.100.7",
        "method": "POST",
        "path": "/prod/hooks/stripe",
        "query": {"a": "1", "it's": 'q"uote\\'},
        "headers": {"Content-Type": "application/x-www-form-urlencoded", "X-Emoji": "\U0001f600\n"},
        "body": base64.b64encode(REQ.body).decode(),
    }


def test_encoded_envelope_is_compact_ascii_json() -> None:
    text = encode_envelope(REQ)
    assert text.isascii() and "\n" not in text and ", " not in text
    assert text.startswith('{"v":1,"id":')
    assert json.loads(text) == build_envelope(REQ)


def test_runtime_reads_what_we_write() -> None:
    webhook = runtime_decode(encode_envelope(REQ))
    assert webhook.body == REQ.body
    assert webhook.form() == {"a": ["1"], "b": [" x y"], "c": [""]}
    assert webhook.headers["content-type"] == "application/x-www-form-urlencoded"
    assert webhook.query == REQ.query
    assert webhook.received_at.timestamp() * 1000 == pytest.approx(REQ.received_at_ms)
    assert (webhook.id, webhook.method, webhook.path, webhook.source_ip) == (
        REQ.request_id,
        REQ.method,
        REQ.path,
        REQ.source_ip,
    )


def test_decode_round_trip_keeps_headers_differing_in_case() -> None:
    req = IncomingRequest(
        method="POST", path="/", headers={"X-A": "1", "x-a": "2"}, request_id="r", received_at_ms=5
    )
    assert decode_envelope(encode_envelope(req)) == req


def test_empty_body_is_empty_base64() -> None:
    req = IncomingRequest(method="GET", path="/", request_id="r", received_at_ms=0)
    assert build_envelope(req)["body"] == ""
    assert decode_envelope(encode_envelope(req)).body == b""


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"v":2}', "version"),
        (encode_envelope(REQ).replace('"body":"', '"body":"!'), "base64"),
        (encode_envelope(REQ).replace('"receivedAt":1717171717123', '"receivedAt":"x"'), "epoch"),
    ],
)
def test_decode_rejects_malformed(text: str, reason: str) -> None:
    with pytest.raises(MalformedEnvelope, match=reason):
        decode_envelope(text)


def test_received_now_assigns_id_and_time() -> None:
    first = IncomingRequest.received_now("POST", "/h", body=b"x", headers={"A": "b"})
    second = IncomingRequest.received_now("POST", "/h")
    assert uuid.UUID(first.request_id) and first.request_id != second.request_id
    assert first.received_at_ms > 1_600_000_000_000
    assert (first.body, first.headers, first.query, first.source_ip) == (
        b"x",
        {"A": "b"},
        {},
        "127.0.0.1",
    )


TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=200)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    path=TEXT,
    query=st.dictionaries(TEXT, TEXT, max_size=5),
    headers=st.dictionaries(TEXT, TEXT, max_size=5),
    body=st.binary(max_size=4096),
    source_ip=TEXT,
    request_id=TEXT,
    received_at_ms=st.integers(min_value=0, max_value=4_102_444_800_000),
)
def test_encode_decode_round_trip(
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    source_ip: str,
    request_id: str,
    received_at_ms: int,
) -> None:
    req = IncomingRequest(
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        source_ip=source_ip,
        request_id=request_id,
        received_at_ms=received_at_ms,
    )
    text = encode_envelope(req)
    assert text.isascii()  # always a legal SQS message body
    assert decode_envelope(text) == req
