"""The endpoint: routes, methods, content types, sizes, and the envelope, byte for byte."""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Callable

import pytest

from nami_action.dev.app import DevApp
from nami_action.envelope import decode_envelope
from nami_action.errors import ConfigError

from .helpers import Project, post

PIPELINES = """
hooks:
  path: /in/hooks
  verify:
    scheme: none
  queue:
    max_message_size: 2KiB
  consumer:
    code: consumer
    handler: HANDLER
    max_concurrency: 2
"""


@pytest.fixture
def app(make_project: Callable[..., Project], start_app: Callable[..., DevApp]) -> DevApp:
    app = start_app(make_project(PIPELINES))
    for workers in app.workers.values():
        workers.stop()  # keep messages in the queue to read them back
        workers.join()
    return app


def stored(app: DevApp) -> list[str]:
    return [body for _, body, _ in _rows(app)]


def _rows(app: DevApp) -> list[tuple[str, str, int]]:
    received = app.store.receive("hooks", 100, 60, 10, now=2e9)
    return [(m.message_id, m.body, m.receive_count) for m in received]


def test_envelope_is_what_api_gateway_builds_byte_exact(app: DevApp) -> None:
    body = bytes(range(256)) + "é ✓".encode()
    status, answer = post(
        app.url,
        "/in/hooks?a=1&b=two%20words&a=3",
        body,
        {"Content-Type": "application/octet-stream", "X-Custom": "Value"},
    )
    assert status == 202
    [(message_id, envelope, _)] = _rows(app)
    assert message_id == answer["messageId"]
    data = json.loads(envelope)
    assert list(data) == [
        "v",
        "id",
        "receivedAt",
        "sourceIp",
        "method",
        "path",
        "query",
        "headers",
        "body",
    ]
    assert data["id"] == answer["id"] and data["sourceIp"] == "127.0.0.1"
    assert (data["method"], data["path"]) == ("POST", "/in/hooks")
    assert data["query"] == {"a": "3", "b": "two words"}
    assert data["headers"]["X-Custom"] == "Value"
    assert base64.b64decode(data["body"]) == body
    assert decode_envelope(envelope).body == body
    assert envelope.isascii()


def test_routes_methods_and_content_types(app: DevApp) -> None:
    assert post(app.url, "/nope", "{}")[0] == 404
    assert post(app.url, "/in/hooks", "", method="GET")[0] == 405
    assert post(app.url, "/in/hooks", "{}", {"Content-Type": "image/png"})[0] == 415
    for content_type in ("application/x-www-form-urlencoded", "text/plain; charset=utf-8"):
        assert post(app.url, "/in/hooks", "a=1", {"Content-Type": content_type})[0] == 202
    assert len(stored(app)) == 2


def test_too_large_is_413_and_not_stored(app: DevApp) -> None:
    assert post(app.url, "/in/hooks", "x" * 4096)[0] == 413  # refused by Content-Length
    assert post(app.url, "/in/hooks", "x" * 1500)[0] == 413  # the envelope is over 2 KiB
    assert post(app.url, "/in/hooks", "x" * 500)[0] == 202
    assert len(stored(app)) == 1


def raw_exchange(app: DevApp, payload: bytes, answers: int) -> list[bytes]:
    """Send raw bytes; read `answers` responses (status lines) off one connection."""
    host, port = app.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while data.count(b"HTTP/1.1 ") < answers or not data.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return re.findall(rb"HTTP/1\.1 \d{3} [^\r]*", data)


def test_keep_alive_chunked_and_expect_continue(app: DevApp) -> None:
    first = b"POST /in/hooks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    chunked = (
        b"POST /in/hooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    statuses = raw_exchange(app, first + chunked, 2)
    assert statuses == [b"HTTP/1.1 202 Accepted", b"HTTP/1.1 202 Accepted"]
    expect = (
        b"POST /in/hooks HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz"
    )
    assert raw_exchange(app, expect, 2) == [b"HTTP/1.1 100 Continue", b"HTTP/1.1 202 Accepted"]
    bodies = sorted(decode_envelope(body).body for body in stored(app))
    assert bodies == [b"abcde", b"z", b"{}"]


def test_malformed_request_is_400(app: DevApp) -> None:
    assert raw_exchange(app, b"NONSENSE\r\n\r\n", 1) == [b"HTTP/1.1 400 Bad Request"]
    bad_length = b"POST /in/hooks HTTP/1.1\r\nContent-Length: -1\r\n\r\n"
    assert raw_exchange(app, bad_length, 1) == [b"HTTP/1.1 400 Bad Request"]


def test_two_pipelines_on_one_path_are_refused(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    # Validate refuses it (DevApp's own check stays, for a Config built some other way).
    clash = PIPELINES + PIPELINES.replace("hooks:", "other:", 1)
    with pytest.raises(ConfigError, match="path /in/hooks is already the path of pipeline"):
        start_app(make_project(clash))
