"""`nami dev` for `ingress: http` and `ingress: function-url`: the answers AWS would give.

DevServer serves `rest` (API Gateway + VTL). This subclass takes the paths of the other kinds:
- `http`: only `POST <path>` (other methods 404, as an HTTP API route does); envelope version 2
  with the headers the parameter mapping carries; a body that is not UTF-8, or an envelope
  above the queue's size, is refused with 500, as SQS's refusal comes back through the API.
- `function-url`: the runtime's own ingest function (runtime/ingest.py) decides: 401 for a bad
  signature (nothing stored), the provider handshakes, 413; then the envelope is stored
  through the dev queue and 202 answered after COMMIT, 503 if it was not stored.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from nami_action.compile.ingress_http import carried_headers
from nami_action.config import PipelineConfig
from nami_action.dev.http11 import Head
from nami_action.dev.queue import Outgoing, StoreError
from nami_action.dev.server import (
    NOT_STORED,
    Answer,
    DevServer,
    Route,
    Submit,
    _body,
    _early,
    request_target,
)
from nami_action.envelope import IncomingRequest, encode_envelope
from nami_action.runtime.ingest import Ingest
from nami_action.runtime.textenvelope import format_text_envelope
from nami_action.runtime.verify import VerifySettings

FUNCTION_URL_BODY_LIMIT = 6 * 1024 * 1024  # a function URL's request payload quota
HTTP_API_BODY_LIMIT = 10 * 1024 * 1024  # an HTTP API's payload quota


@dataclass(frozen=True)
class KindRoute:
    pipeline: PipelineConfig
    ingest: Ingest | None = None  # function-url only


def kind_routes(
    pipelines: list[tuple[PipelineConfig, VerifySettings | None]],
) -> dict[str, KindRoute]:
    """Path -> the non-`rest` pipeline served there, with its verify settings (dev secret)."""
    routes: dict[str, KindRoute] = {}
    for pipeline, settings in pipelines:
        spec = pipeline.spec
        if spec.ingress == "http":
            routes[pipeline.path] = KindRoute(pipeline)
        elif spec.ingress == "function-url":
            ingest = Ingest(settings, _never_sent, spec.queue.max_message_size)
            routes[pipeline.path] = KindRoute(pipeline, ingest)
    return routes


def _never_sent(text: str, request_id: str, group: str) -> None:
    raise AssertionError("nami dev stores through its own queue (Ingest.prepare)")


def http_envelope(
    pipeline: PipelineConfig,
    headers: dict[str, str],
    body: bytes,
    context: dict[str, str],
) -> str | None:
    """The MessageBody the HTTP API's mapping would give; None for a body SQS cannot hold."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lower = {name.lower(): value for name, value in headers.items()}
    carried = [(name, lower.get(name, "")) for name in carried_headers(pipeline.spec)]
    return format_text_envelope(context, carried, text)


def function_url_event(
    head: Head, target: urllib.parse.SplitResult, body: bytes, source_ip: str, request_id: str
) -> dict[str, Any]:
    """The function URL event (payload format 2.0) for this request."""
    headers: dict[str, str] = {}
    for name, value in head.headers:
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(target.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    return {
        "version": "2.0",
        "rawPath": target.path,
        "rawQueryString": target.query,
        "headers": headers,
        "queryStringParameters": query or None,
        "requestContext": {
            "requestId": request_id,
            "timeEpoch": time.time_ns() // 1_000_000,
            "http": {"method": head.method, "path": target.path, "sourceIp": source_ip},
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }


def refused_envelope(event: dict[str, Any]) -> str:
    """The envelope of a request the function URL refused (for the inspector only)."""
    context = event["requestContext"]
    return encode_envelope(
        IncomingRequest(
            method=context["http"]["method"],
            path=event["rawPath"],
            query=dict(urllib.parse.parse_qsl(event["rawQueryString"], keep_blank_values=True)),
            headers=dict(event["headers"]),
            body=base64.b64decode(event["body"]),
            source_ip=context["http"]["sourceIp"],
            request_id=context["requestId"],
            received_at_ms=context["timeEpoch"],
        )
    )


class KindsDevServer(DevServer):
    """DevServer plus the `http` and `function-url` paths."""

    def __init__(
        self,
        address: tuple[str, int],
        routes: dict[str, Route],
        submit: Submit,
        on_received: Callable[[str], None],
        kinds: dict[str, KindRoute],
    ) -> None:
        super().__init__(address, routes, submit, on_received)
        self.kinds = kinds
        # A function URL refuses some webhooks itself (401 for a bad signature): nothing is
        # stored, but the inspector shows them: (pipeline, envelope, answer body).
        self.on_refused: Callable[[str, str, str], None] | None = None

    async def _answer(
        self,
        head: Head,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        source_ip: str,
    ) -> Answer:
        target = request_target(head)
        kind = self.kinds.get(target.path)
        if kind is None:
            return await super()._answer(head, reader, writer, source_ip)
        if kind.ingest is None:
            return await self._http_api(kind, head, reader, writer, target, source_ip)
        return await self._function_url(kind, kind.ingest, head, reader, writer, target, source_ip)

    async def _http_api(
        self,
        kind: KindRoute,
        head: Head,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        target: urllib.parse.SplitResult,
        source_ip: str,
    ) -> Answer:
        if head.method != "POST":
            return await _early(head, reader, HTTPStatus.NOT_FOUND, "Not Found")
        body = await _body(head, reader, writer, HTTP_API_BODY_LIMIT)
        if body is None:
            return Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Request too large"})
        request_id = self._ids.next()
        context = {
            "id": request_id,
            "receivedAt": str(time.time_ns() // 1_000_000),
            "sourceIp": source_ip,
            "method": "POST",
            "path": target.path,
        }
        text = http_envelope(kind.pipeline, dict(head.headers), body, context)
        if text is None or len(text.encode()) > kind.pipeline.spec.queue.max_message_size:
            return Answer(HTTPStatus.INTERNAL_SERVER_ERROR, {"message": "Internal Server Error"})
        return await self._keep(kind, text, request_id)

    async def _function_url(
        self,
        kind: KindRoute,
        ingest: Ingest,
        head: Head,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        target: urllib.parse.SplitResult,
        source_ip: str,
    ) -> Answer:
        body = await _body(head, reader, writer, FUNCTION_URL_BODY_LIMIT)
        if body is None:
            return Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Request too large"})
        event = function_url_event(head, target, body, source_ip, self._ids.next())
        prepared = ingest.prepare(event)
        if not isinstance(prepared, tuple):
            status = HTTPStatus(prepared.status)
            if status >= HTTPStatus.BAD_REQUEST and self.on_refused is not None:
                self.on_refused(kind.pipeline.name, refused_envelope(event), prepared.body)
            if prepared.content_type == "text/plain":
                return Answer(status, {}, text=prepared.body)
            return Answer(status, json_object(prepared.body))
        text, request_id, _group = prepared  # the dev queue keeps one order per pipeline
        return await self._keep(kind, text, request_id)

    async def _keep(self, kind: KindRoute, text: str, request_id: str) -> Answer:
        name = kind.pipeline.name
        message_id = self._ids.next()
        try:
            await self._stored(Outgoing(name, message_id, text, time.time()))
        except StoreError:
            not_stored = {"error": "not_stored", "message": NOT_STORED, "id": request_id}
            return Answer(HTTPStatus.SERVICE_UNAVAILABLE, not_stored, keep_alive=False)
        self._on_received(name)
        return Answer(HTTPStatus.ACCEPTED, {"id": request_id, "messageId": message_id})


def json_object(text: str) -> dict[str, str]:
    data = json.loads(text)
    return {str(k): str(v) for k, v in data.items()}
