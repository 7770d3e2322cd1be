"""The dev endpoint against hostile or broken clients, over real sockets on 127.0.0.1:
conflicting framing, malformed targets and chunk sizes are a 400, slow heads and bodies time
out with a 408, and nothing prints a traceback. A port in use is a one-line error."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from nami_action.dev import server
from nami_action.dev.app import DevApp
from nami_action.envelope import decode_envelope

from .helpers import Project, post

PIPELINES = """
hooks:
  path: /in/hooks
  verify:
    scheme: none
  consumer:
    code: consumer
    handler: HANDLER
"""


@pytest.fixture
def app(
    make_project: Callable[..., Project],
    start_app: Callable[..., DevApp],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> Iterator[DevApp]:
    monkeypatch.setattr(server, "IDLE_TIMEOUT", 3.0)
    monkeypatch.setattr(server, "HEAD_TIMEOUT", 0.5)
    monkeypatch.setattr(server, "BODY_TIMEOUT", 0.5)
    app = start_app(make_project(PIPELINES))
    for workers in app.workers.values():
        workers.stop()  # keep messages in the queue to read them back
        workers.join()
    yield app
    logged = capfd.readouterr()
    assert "Traceback" not in logged.out + logged.err
    assert "dropped" not in logged.err  # no request reached the catch-all


@contextlib.contextmanager
def connect(app: DevApp) -> Iterator[socket.socket]:
    host, port = app.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        yield sock


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def exchange(app: DevApp, request: bytes) -> bytes:
    with connect(app) as sock:
        sock.sendall(request)
        return answer(sock)


def status(response: bytes) -> bytes:
    return response.split(b"\r\n", 1)[0]


def stored(app: DevApp) -> list[bytes]:
    """The bodies of the webhooks in the queue (call once per test: it receives them)."""
    received = app.store.receive("hooks", 100, 60, 10, now=2e9)
    return [decode_envelope(message.body).body for message in received]


POST = b"POST /in/hooks HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 2\r\nContent-Length: 3\r\n",
        b"Content-Length: 2, 3\r\n",
        b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n",
        b"Content-Length: +2\r\n",
        b"Content-Length: \xd9\xa2\r\n",  # an Arabic-Indic digit two
    ],
    ids=[
        "two lengths",
        "length list",
        "length and chunked",
        "chunked twice",
        "gzip",
        "+",
        "non-ascii",
    ],
)
def test_ambiguous_framing_is_400_and_nothing_stored(app: DevApp, headers: bytes) -> None:
    response = exchange(app, POST + headers + b"\r\n{}x0\r\n\r\n")
    assert status(response) == b"HTTP/1.1 400 Bad Request"
    assert b"Connection: close" in response
    assert stored(app) == []


def test_the_same_length_repeated_is_one_length(app: DevApp) -> None:
    request = POST + b"Content-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    assert status(exchange(app, request)) == b"HTTP/1.1 202 Accepted"
    assert stored(app) == [b"{}"]


@pytest.mark.parametrize(
    "target",
    [b"in/hooks", b"/in/\x01hooks", b"/in/h\xc3\xa9", b"http://[::1/in/hooks", b"*"],
    ids=["relative", "control byte", "non-ascii", "bad ipv6 host", "asterisk"],
)
def test_a_malformed_target_is_400(app: DevApp, target: bytes) -> None:
    request = b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    assert status(exchange(app, request)) in (
        b"HTTP/1.1 400 Bad Request",
        b"HTTP/1.1 404 Not Found",
    )
    assert stored(app) == []


def test_a_target_of_control_bytes_is_400_not_404(app: DevApp) -> None:
    request = b"POST /in/\x01hooks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    assert status(exchange(app, request)) == b"HTTP/1.1 400 Bad Request"


def test_absolute_form_reaches_the_route(app: DevApp) -> None:
    request = b"POST http://localhost/in/hooks?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    assert status(exchange(app, request + b"Connection: close\r\n\r\n{}")) == (
        b"HTTP/1.1 202 Accepted"
    )


@pytest.mark.parametrize(
    "size_line",
    [b"-5", b"0x5", b"5_0", b" 5", b"zz", b"", b"1" * 17, b"5" + b"0" * 70000],
    ids=["negative", "0x", "underscore", "leading space", "not hex", "empty", "17 digits", "huge"],
)
def test_a_malformed_chunk_size_is_400(app: DevApp, size_line: bytes) -> None:
    request = POST + b"Transfer-Encoding: chunked\r\n\r\n" + size_line + b"\r\nabcde\r\n0\r\n\r\n"
    assert status(exchange(app, request)) == b"HTTP/1.1 400 Bad Request"
    assert stored(app) == []


def test_chunk_extensions_and_upper_case_hex_are_fine(app: DevApp) -> None:
    body = b"A;name=value\r\n0123456789\r\n0\r\n\r\n"
    request = POST + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body
    assert status(exchange(app, request)) == b"HTTP/1.1 202 Accepted"
    assert stored(app) == [b"0123456789"]


def test_a_slow_head_gets_408_and_is_closed(app: DevApp) -> None:
    with connect(app) as sock:
        sock.sendall(b"POST /in/hooks HTTP/1.1\r\n")
        started = time.monotonic()
        for _ in range(20):  # one header byte every 0.1 s: never done within the deadline
            try:
                sock.sendall(b"X")
            except OSError:
                break
            time.sleep(0.1)
        response = answer(sock)
    assert status(response) == b"HTTP/1.1 408 Request Timeout"
    assert time.monotonic() - started < 5
    assert stored(app) == []


@pytest.mark.parametrize("framing", [b"Content-Length: 100\r\n", b"Transfer-Encoding: chunked\r\n"])
def test_a_slow_body_gets_408_and_nothing_is_stored(app: DevApp, framing: bytes) -> None:
    with connect(app) as sock:
        sock.sendall(POST + framing + b"\r\n")
        started = time.monotonic()
        for _ in range(20):
            try:
                sock.sendall(b"1\r\n")
            except OSError:
                break
            time.sleep(0.1)
        response = answer(sock)
    assert status(response) == b"HTTP/1.1 408 Request Timeout"
    assert time.monotonic() - started < 5
    assert stored(app) == []


def test_a_slow_body_of_an_early_answer_times_out_too(app: DevApp) -> None:
    with connect(app) as sock:
        sock.sendall(b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        response = answer(sock)
    assert status(response) == b"HTTP/1.1 408 Request Timeout"


def test_a_silent_connection_is_closed_without_an_answer(app: DevApp) -> None:
    with connect(app) as sock:
        started = time.monotonic()
        assert answer(sock) == b""
    assert 2.5 < time.monotonic() - started < 8


def test_keep_alive_between_quick_requests_still_works(app: DevApp) -> None:
    one = POST + b"Content-Length: 1\r\n\r\na"
    with connect(app) as sock:
        for _ in range(3):
            sock.sendall(one)
            assert sock.recv(65536).startswith(b"HTTP/1.1 202 Accepted")
            time.sleep(0.3)  # idle between requests does not count against the head deadline
    assert sorted(stored(app)) == [b"a", b"a", b"a"]


def test_the_server_still_serves_after_all_that(app: DevApp) -> None:
    exchange(app, POST + b"Transfer-Encoding: chunked\r\n\r\n-1\r\n")
    exchange(app, b"POST http://[::1/ HTTP/1.1\r\n\r\n")
    assert post(app.url, "/in/hooks", b'{"n": 1}')[0] == 202


def test_a_port_in_use_is_one_line(make_project: Callable[..., Project]) -> None:
    project = make_project(PIPELINES)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "nami_action", "dev", str(project.config)]
        result = subprocess.run(
            [*command, "--port", str(port), "--data", str(project.data)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another nami dev? pick one with --port)\n"
    )
    assert "Traceback" not in result.stdout
