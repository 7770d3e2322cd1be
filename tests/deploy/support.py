"""Helpers for plan/deploy tests: a project on disk, and a fault-injecting HTTP proxy on
127.0.0.1 that sits between nami and the emulator."""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REGION = "us-east-1"
BUCKET = "nami-test-artifacts"
PIPELINE = """  {name}:
    verify: {{scheme: none}}
    consumer:
      code: consumer
      max_concurrency: {concurrency}
"""


@dataclass
class Project:
    folder: Path
    pipelines: dict[str, int] = field(default_factory=dict)  # name -> max concurrency

    @property
    def config(self) -> Path:
        return self.folder / "nami.yaml"

    def write(self) -> Path:
        body = "".join(PIPELINE.format(name=n, concurrency=c) for n, c in self.pipelines.items())
        self.config.write_text(
            f"version: 1\nproject: shop\nregion: {REGION}\nartifacts: {{bucket: {BUCKET}}}\n"
            f"pipelines:\n{body}"
        )
        return self.config


@dataclass
class Fault:
    status: int
    body: str
    remaining: int
    content_type: str = "text/xml"


class FaultProxy:
    """Forwards every request to the emulator, except the next N calls of an operation,
    which get a canned error: throttling, access denied, a failed change set..."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.faults: dict[str, Fault] = {}
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail(
        self,
        operation: str,
        status: int,
        body: str,
        times: int = 1,
        content_type: str = "text/xml",
    ) -> None:
        """A canned answer: an error, or a 200 in the protocol's own content type."""
        self.faults[operation] = Fault(status, body, times, content_type)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                self._relay(b"")

            def do_HEAD(self) -> None:
                self._relay(b"")

            def do_PUT(self) -> None:
                self._relay(self._body())

            def do_DELETE(self) -> None:
                self._relay(self._body())

            def do_POST(self) -> None:
                self._relay(self._body())

            def do_PATCH(self) -> None:
                self._relay(self._body())

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _relay(self, body: bytes) -> None:
                operation = self._operation(body)
                with proxy.lock:
                    proxy.seen[operation] += 1
                    fault = proxy.faults.get(operation)
                    inject = fault is not None and fault.remaining > 0
                    if inject and fault is not None:
                        fault.remaining -= 1
                if inject and fault is not None:
                    self._answer(fault.status, fault.body.encode(), fault.content_type)
                    return
                connection = http.client.HTTPConnection(
                    proxy.upstream.hostname, proxy.upstream.port, timeout=60
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                self._answer(
                    response.status,
                    payload,
                    response.getheader("Content-Type") or "text/xml",
                    head=self.command == "HEAD",
                )
                connection.close()

            def _operation(self, body: bytes) -> str:
                target = self.headers.get("X-Amz-Target")
                if target:
                    return target.rsplit(".", 1)[-1]
                if "/operation/" in self.path:  # smithy-rpc-v2-cbor (CloudWatch)
                    return self.path.rsplit("/", 1)[-1]
                form = urllib.parse.parse_qs(body.decode("latin-1"))
                return form.get("Action", [self.command])[0]

            def _answer(
                self, status: int, payload: bytes, content_type: str, head: bool = False
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if not head:
                    self.wfile.write(payload)

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def cfn_error(code: str, message: str) -> str:
    return (
        '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>fault-injected</RequestId></ErrorResponse>"
    )
