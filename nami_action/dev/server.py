"""The local endpoint: what API Gateway + the VTL mapping do, over http.server.

POST on a pipeline's path builds the same envelope as AWS (nami_action.envelope), stores it
(group commit) and answers 202 {"id", "messageId"} only after COMMIT; 503 if it was not
stored. Other methods 405, unknown paths 404, a content type API Gateway has no mapping
template for 415, an envelope above the queue's max_message_size 413.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from nami_action.compile.mapping import REQUEST_CONTENT_TYPES
from nami_action.dev.queue import Outgoing, StoreError
from nami_action.envelope import IncomingRequest, encode_envelope

NOT_STORED = "The webhook was not stored (queue unavailable). Retry later."


@dataclass(frozen=True)
class Route:
    pipeline: str
    max_message_size: int


class DevHTTPServer(ThreadingHTTPServer):
    """Routes by exact path; `send` stores a message and returns once it is committed."""

    daemon_threads = True
    request_queue_size = 256  # a burst of new connections must not be refused

    def __init__(
        self,
        address: tuple[str, int],
        routes: dict[str, Route],
        send: Callable[[Outgoing], None],
        on_received: Callable[[str], None],
    ) -> None:
        super().__init__(address, WebhookHandler)
        self.routes = routes
        self.send = send
        self.on_received = on_received
        self.closing = threading.Event()


class WebhookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: senders reuse connections
    server: DevHTTPServer

    def do_POST(self) -> None:
        route = self._route()
        if route is None:
            return
        if not _accepted_type(self.headers.get("Content-Type")):
            self._drain_or_close()
            self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"message": "Unsupported Media Type"})
            return
        body = self._read_body(route.max_message_size)
        if body is None:
            return
        self._store(route, body)

    def _route(self) -> Route | None:
        path = urllib.parse.urlsplit(self.path).path
        route = self.server.routes.get(path)
        if route is None:
            self._drain_or_close()
            self._json(HTTPStatus.NOT_FOUND, {"message": "Not Found"})
        return route

    def _store(self, route: Route, body: bytes) -> None:
        if self.server.closing.is_set():
            self._not_stored("")
            return
        request = IncomingRequest.received_now(
            "POST",
            urllib.parse.urlsplit(self.path).path,
            query=_query(self.path),
            headers=dict(self.headers.items()),  # a repeated header: the last value, like AWS
            body=body,
            source_ip=self.client_address[0],
        )
        envelope = encode_envelope(request)
        if len(envelope) > route.max_message_size:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Request too large"})
            return
        message_id = str(uuid.uuid4())
        try:
            self.server.send(Outgoing(route.pipeline, message_id, envelope, time.time()))
        except StoreError:
            self._not_stored(request.request_id)
            return
        self.server.on_received(route.pipeline)
        self._json(HTTPStatus.ACCEPTED, {"id": request.request_id, "messageId": message_id})

    def _not_stored(self, request_id: str) -> None:
        self.close_connection = True
        body = {"error": "not_stored", "message": NOT_STORED, "id": request_id}
        self._json(HTTPStatus.SERVICE_UNAVAILABLE, body)

    def _read_body(self, limit: int) -> bytes | None:
        """The exact request bytes; None once an error was answered."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._json(HTTPStatus.BAD_REQUEST, {"message": "Bad Content-Length"})
            return None
        if length > limit:  # the envelope would be larger still: refuse without reading
            self.close_connection = True
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Request too large"})
            return None
        return self.rfile.read(length)

    def _read_chunked(self, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                chunk_size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                self._json(HTTPStatus.BAD_REQUEST, {"message": "Bad chunked body"})
                return None
            if chunk_size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            size += chunk_size
            if size > limit:
                self.close_connection = True
                self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Request too large"})
                return None
            chunks.append(self.rfile.read(chunk_size))
            self.rfile.readline(1024)

    def _drain_or_close(self) -> None:
        """Before an early answer: skip a small body, else give up the connection."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if 0 <= length <= 65536 and "Transfer-Encoding" not in self.headers:
            self.rfile.read(length)
        else:
            self.close_connection = True

    def _not_allowed(self) -> None:
        if self._route() is None:
            return
        self._drain_or_close()
        self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"message": "Method Not Allowed"}, allow=True)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _not_allowed

    def do_HEAD(self) -> None:
        self._not_allowed()

    def _json(self, status: HTTPStatus, body: dict[str, Any], *, allow: bool = False) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if allow:
            self.send_header("Allow", "POST")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the dashboard shows counters instead of one line per request."""


def _accepted_type(content_type: str | None) -> bool:
    """API Gateway (PassthroughBehavior NEVER) has templates for these types only; no
    Content-Type reads as application/json."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in REQUEST_CONTENT_TYPES


def _query(raw_path: str) -> dict[str, str]:
    """Query parameters, decoded; a repeated name keeps its last value."""
    query = urllib.parse.urlsplit(raw_path).query
    return dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
