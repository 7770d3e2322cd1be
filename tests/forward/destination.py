"""A real HTTP destination on 127.0.0.1 for `forward:` tests: it verifies nami's Standard
Webhooks signature with the `standardwebhooks` library, as a user's endpoint would, records
every request, and answers what the test scripts (503 for a while, 429 + Retry-After, 400)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() when the request arrived
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    verified: bool

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


Answer = tuple[int, dict[str, str], bytes]
Script = Callable[[Received, int], Answer]  # the request, how many came before it


def ok(received: Received, before: int) -> Answer:
    return 200, {}, b"ok"


@dataclass
class Destination:
    secret: str
    script: Script = ok
    delay: float = 0.0  # seconds each answer takes (the bench's slow app)
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    peak_in_flight: int = 0
    url: str = ""

    def delivered(self) -> list[Received]:
        """Requests answered 2xx."""
        with self.lock:
            pairs = list(zip(self.received, self.answers, strict=False))
        return [r for r, status in pairs if 200 <= status < 300]

    def starts(self) -> list[float]:
        with self.lock:
            return [r.at for r in self.received]


def _handler(destination: Destination) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as most app servers

        def do_POST(self) -> None:
            now = time.monotonic()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                Webhook(destination.secret).verify(body, headers, json_parse=False)
                verified = True
            except WebhookVerificationError:
                verified = False
            received = Received(now, self.command, self.path, headers, body, verified)
            with destination.lock:
                before = len(destination.received)
                destination.received.append(received)
                destination.answers.append(0)
                destination.in_flight += 1
                destination.peak_in_flight = max(destination.peak_in_flight, destination.in_flight)
            try:
                if destination.delay:
                    time.sleep(destination.delay)
                status, extra, answer = destination.script(received, before)
            finally:
                with destination.lock:
                    destination.in_flight -= 1
                    destination.answers[before] = status
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_PUT = do_POST

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def serve(destination: Destination) -> Iterator[Destination]:
    server = Server(("127.0.0.1", 0), _handler(destination))
    destination.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield destination
    finally:
        server.shutdown()
        server.server_close()


def max_in_window(starts: list[float], window: float) -> int:
    """The most request starts within any `window` seconds."""
    ordered = sorted(starts)
    best, first = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


def post(url: str, path: str, body: str, headers: dict[str, str]) -> int:
    """POST to `nami dev`; the status."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
