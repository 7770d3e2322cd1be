"""The local endpoint: what API Gateway + the VTL mapping do, on one asyncio thread.

POST on a pipeline's path builds the same envelope as AWS (nami_action.envelope), stores it
(group commit) and answers 202 {"id", "messageId"} only after COMMIT; 503 if it was not
stored. Other methods 405, unknown paths 404, a content type API Gateway has no mapping
template for 415, an envelope above the queue's max_message_size 413. HTTP/1.1 keep-alive.

Why asyncio and not ThreadingHTTPServer: measured on 2 cores, a thread per connection made
the commit thread wait for the GIL behind dozens of request threads after every fsync
(~6 ms per commit instead of ~1), capping a burst near 1,000 webhooks/s. One event-loop
thread plus the commit thread keeps that hand-off short.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from nami_action.compile.mapping import REQUEST_CONTENT_TYPES
from nami_action.config.code import printable
from nami_action.dev.commit import Done
from nami_action.dev.consumers import DevError
from nami_action.dev.http11 import (
    CONTINUE,
    MAX_HEAD,
    Head,
    HttpError,
    TooLarge,
    body_length,
    json_response,
    parse_head,
    read_chunked,
)
from nami_action.dev.queue import Outgoing, StoreError
from nami_action.envelope import IncomingRequest, encode_envelope

NOT_STORED = "The webhook was not stored (queue unavailable). Retry later."
SHUTDOWN_GRACE = 5.0  # seconds for answers of committed webhooks to be written at stop
SKIP_LIMIT = 65536  # body bytes read and dropped to keep a connection after an early answer
BACKLOG = 512  # a burst of new connections must not be refused
# Slow clients (slowloris) must not hold connections open: a keep-alive connection may wait
# IDLE_TIMEOUT for its next request; from its first byte, the head must be complete within
# HEAD_TIMEOUT and then the body within BODY_TIMEOUT. Past a deadline: 408 and close.
IDLE_TIMEOUT = 60.0
HEAD_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0

Submit = Callable[[Outgoing, Done], None]


@dataclass(frozen=True)
class Route:
    pipeline: str
    max_message_size: int


@dataclass(frozen=True)
class Answer:
    status: HTTPStatus
    body: dict[str, str]
    keep_alive: bool = True
    text: str | None = None  # a plain-text answer instead (provider handshakes, dev/ingress_kinds)
    raw: bytes | None = None  # a whole response instead (the inspector, dev/inspector.py)


# The inspector (dev/inspector.py): (head, path, query, body) -> a whole HTTP response.
Inspect = Callable[[Head, str, str, bytes], bytes]
INSPECTOR_PREFIX = "/_nami"
INSPECTOR_BODY_LIMIT = 64 * 1024


class DevServer:
    """The HTTP endpoint, its event loop running in a thread of its own."""

    def __init__(
        self,
        address: tuple[str, int],
        routes: dict[str, Route],
        submit: Submit,
        on_received: Callable[[str], None],
    ) -> None:
        self.routes = routes
        self._submit = submit
        self._on_received = on_received
        self._loop = asyncio.new_event_loop()
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(
                    self._connection, address[0], address[1], backlog=BACKLOG, limit=MAX_HEAD
                )
            )
        except OSError as exc:  # port in use, address not on this machine, no permission
            self._loop.close()
            hint = " (another nami dev? pick one with --port)" if _in_use(exc) else ""
            reason = _reason(exc)
            raise DevError(f"cannot listen on {address[0]}:{address[1]}: {reason}{hint}") from None
        self.address: tuple[str, int] = self._server.sockets[0].getsockname()[:2]
        self._writers: set[asyncio.StreamWriter] = set()
        self._closing = False
        self._busy = 0  # requests between their head and their answer
        self._ids = RandomIds()
        self._results: list[tuple[asyncio.Future[None], StoreError | None]] = []
        self._results_lock = threading.Lock()
        self._wake_pending = False
        self._thread = threading.Thread(target=self._loop.run_forever, name="nami-dev-http")
        self.inspector: Inspect | None = None  # set by the app before start

    def start(self) -> None:
        self._thread.start()

    def stop_accepting(self) -> None:
        """No new connections; requests still arriving are answered 503 (not stored)."""
        self._closing = True
        self._call(self._server.close)

    def close(self) -> None:
        """Answer what was committed, then end every connection and the loop.

        Call after the commit thread has reported on every webhook handed over."""
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._finish(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()

    def _call(self, function: Callable[[], None]) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(function)
        elif not self._loop.is_closed():
            function()

    async def _finish(self) -> None:
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while self._busy and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for writer in list(self._writers):
            writer.transport.abort()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        source_ip = str(peer[0]) if peer else ""
        try:
            while await self._serve_one(reader, writer, source_ip):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away, or stayed silent past IDLE_TIMEOUT
        except Exception as exc:  # a bug reading one request must not print a traceback
            reason = printable(repr(exc))
            print(f"nami dev: connection from {source_ip} dropped: {reason}", file=sys.stderr)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _serve_one(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source_ip: str
    ) -> bool:
        """Answer one request; False when the connection must close."""
        head: Head | None = None
        first = await asyncio.wait_for(reader.readexactly(1), IDLE_TIMEOUT)
        try:
            async with asyncio.timeout(HEAD_TIMEOUT):
                block = first + await reader.readuntil(b"\r\n\r\n")
            head = parse_head(block)
            if head is None:
                return True
            self._busy += 1
            try:
                answer = await self._dispatch(head, reader, writer, source_ip)
            finally:
                self._busy -= 1
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise
            return False  # closed between requests
        except asyncio.LimitOverrunError:
            answer = Answer(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, _msg("Head too large"))
            answer = Answer(answer.status, answer.body, keep_alive=False)
        except HttpError as exc:
            answer = Answer(exc.status, _msg(str(exc)), keep_alive=False)
        except TimeoutError:
            answer = Answer(HTTPStatus.REQUEST_TIMEOUT, _msg("Request Timeout"), keep_alive=False)
        keep = answer.keep_alive and head is not None and head.keep_alive and not self._closing
        if answer.raw is not None:
            writer.write(answer.raw)
            await writer.drain()
            return keep
        if answer.text is not None:
            writer.write(plain_response(answer.status, answer.text, close=not keep))
            await writer.drain()
            return keep
        writer.write(
            json_response(
                answer.status,
                answer.body,
                close=not keep,
                extra=(("Allow", "POST"),)
                if answer.status == HTTPStatus.METHOD_NOT_ALLOWED
                else (),
                head_only=head is not None and head.method == "HEAD",
            )
        )
        await writer.drain()
        return keep

    async def _dispatch(
        self,
        head: Head,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        source_ip: str,
    ) -> Answer:
        """/_nami goes to the inspector; everything else is a webhook."""
        target = request_target(head)
        inspect = self.inspector
        if inspect is None or target.path.split("/", 2)[1:2] != [INSPECTOR_PREFIX[1:]]:
            return await self._answer(head, reader, writer, source_ip)
        async with asyncio.timeout(BODY_TIMEOUT):
            body = await _body(head, reader, writer, INSPECTOR_BODY_LIMIT)
        if body is None:
            return Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _msg("Request too large"), False)
        return Answer(HTTPStatus.OK, {}, raw=inspect(head, target.path, target.query, body))

    async def _answer(
        self,
        head: Head,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        source_ip: str,
    ) -> Answer:
        target = request_target(head)
        route = self.routes.get(target.path)
        refusal = _refusal(head, route)
        async with asyncio.timeout(BODY_TIMEOUT):
            if refusal is not None:
                return await _early(head, reader, *refusal)
            assert route is not None
            body = await _body(head, reader, writer, route.max_message_size)
        if body is None:
            return Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _msg("Request too large"), False)
        return await self._store(route, head, target, body, source_ip)

    async def _store(
        self,
        route: Route,
        head: Head,
        target: urllib.parse.SplitResult,
        body: bytes,
        source_ip: str,
    ) -> Answer:
        request = IncomingRequest(
            method="POST",
            path=target.path,
            query=dict(urllib.parse.parse_qsl(target.query, keep_blank_values=True)),
            headers=dict(head.headers),  # a repeated header: the last value
            body=body,
            source_ip=source_ip,
            request_id=self._ids.next(),
            received_at_ms=time.time_ns() // 1_000_000,
        )
        envelope = encode_envelope(request)
        if len(envelope) > route.max_message_size:
            return Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _msg("Request too large"))
        message_id = self._ids.next()
        try:
            await self._stored(Outgoing(route.pipeline, message_id, envelope, time.time()))
        except StoreError:
            not_stored = {"error": "not_stored", "message": NOT_STORED, "id": request.request_id}
            return Answer(HTTPStatus.SERVICE_UNAVAILABLE, not_stored, keep_alive=False)
        self._on_received(route.pipeline)
        return Answer(HTTPStatus.ACCEPTED, {"id": request.request_id, "messageId": message_id})

    async def _stored(self, message: Outgoing) -> None:
        """Wait until the commit thread reports the message committed (or raise StoreError)."""
        if self._closing:
            raise StoreError("shutting down")
        future: asyncio.Future[None] = self._loop.create_future()
        self._submit(message, lambda error: self._settled(future, error))
        await future

    def _settled(self, future: asyncio.Future[None], error: StoreError | None) -> None:
        """On the commit thread: queue the result; one loop wake-up per group, not per message."""
        with self._results_lock:
            self._results.append((future, error))
            if self._wake_pending:
                return
            self._wake_pending = True
        self._loop.call_soon_threadsafe(self._settle_all)

    def _settle_all(self) -> None:
        with self._results_lock:
            results, self._results = self._results, []
            self._wake_pending = False
        for future, error in results:
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


def _refusal(head: Head, route: Route | None) -> tuple[HTTPStatus, str] | None:
    """Why the request is answered before its body is read, or None."""
    if route is None:
        return HTTPStatus.NOT_FOUND, "Not Found"
    if head.method != "POST":
        return HTTPStatus.METHOD_NOT_ALLOWED, "Method Not Allowed"
    if not accepted_type(head.get("Content-Type")):
        return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type"
    return None


def _in_use(exc: OSError) -> bool:
    return exc.errno == errno.EADDRINUSE


def _reason(exc: OSError) -> str:
    """The system's short reason (asyncio wraps bind errors in a long message of its own)."""
    if isinstance(exc, socket.gaierror) or not exc.errno or exc.errno < 0:
        return exc.strerror or str(exc)
    return os.strerror(exc.errno)


async def _body(
    head: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int
) -> bytes | None:
    """The exact request bytes; None when larger than `limit` (then nothing more is read)."""
    length = body_length(head)
    if length is not None and length > limit:
        return None  # the envelope would be larger still: refuse without reading
    if (head.get("Expect") or "").lower() == "100-continue":
        writer.write(CONTINUE)
    if length is None:
        try:
            return await read_chunked(reader, limit)
        except TooLarge:
            return None
    return await reader.readexactly(length)


async def _early(
    head: Head, reader: asyncio.StreamReader, status: HTTPStatus, message: str
) -> Answer:
    """An answer before the body: skip a small body to keep the connection, else close."""
    length = body_length(head)
    expects = (head.get("Expect") or "").lower() == "100-continue"
    if length is None or length > SKIP_LIMIT or expects:
        return Answer(status, _msg(message), keep_alive=False)
    await reader.readexactly(length)
    return Answer(status, _msg(message))


class RandomIds:
    """UUID4 strings from a pool of random bytes: os.urandom is a system call, and the
    endpoint needs two ids per webhook (request id and message id)."""

    POOL = 16 * 512

    def __init__(self) -> None:
        self._pool = b""
        self._offset = 0

    def next(self) -> str:  # only called on the event-loop thread
        if self._offset >= len(self._pool):
            self._pool, self._offset = os.urandom(self.POOL), 0
        chunk = self._pool[self._offset : self._offset + 16]
        self._offset += 16
        return str(uuid.UUID(bytes=chunk, version=4))


def request_target(head: Head) -> urllib.parse.SplitResult:
    """The request target split into path and query; 400 when it cannot be split."""
    try:
        return urllib.parse.urlsplit(head.target)
    except ValueError:  # e.g. `http://[::1/`: an unclosed IPv6 host
        raise HttpError(HTTPStatus.BAD_REQUEST, "Bad request target") from None


def plain_response(status: HTTPStatus, text: str, *, close: bool) -> bytes:
    data = text.encode()
    lines = [f"HTTP/1.1 {status.value} {status.phrase}", "Server: nami-dev"]
    lines += ["Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(data)}"]
    lines += ["Connection: close"] if close else []
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def _msg(text: str) -> dict[str, str]:
    return {"message": text}


def accepted_type(content_type: str | None) -> bool:
    """API Gateway (PassthroughBehavior NEVER) has templates for these types only; no
    Content-Type reads as application/json."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in REQUEST_CONTENT_TYPES
