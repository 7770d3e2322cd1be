"""The envelope API Gateway puts on the queue, decoded into the `Webhook` a user handler gets."""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .textenvelope import (
    TextEnvelopeError,
    is_text_envelope,
    parse_text_envelope,
)

ENVELOPE_VERSION = 1


class MalformedEnvelope(ValueError):
    """The record body is not an envelope; retrying it can never help."""


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive header map (HTTP header names are case-insensitive)."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        # lower-cased name -> (name as sent, value); keeps the sender's spelling for iteration.
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in (items or {}).items():
            self._items[name.lower()] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class Webhook:
    """One received HTTP request, byte-exact, as the sender made it."""

    id: str
    received_at: datetime
    source_ip: str
    method: str
    path: str
    query: dict[str, str]
    headers: Headers
    body: bytes
    message_id: str = ""
    receive_count: int = 1
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def text(self, encoding: str = "utf-8") -> str:
        return self.body.decode(encoding)

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        # keep_blank_values: "a=&b=1" must still tell the handler that `a` was sent.
        return urllib.parse.parse_qs(self.text(), keep_blank_values=True)


def decode_envelope(body: str, message_id: str = "", receive_count: int = 1) -> Webhook:
    """Parse one SQS record body; raise MalformedEnvelope with a short reason otherwise."""
    data = _text_envelope(body) if is_text_envelope(body) else _json_envelope(body)
    return Webhook(
        id=_str(data, "id"),
        received_at=_timestamp(data),
        source_ip=_str(data, "sourceIp", required=False),
        method=_str(data, "method"),
        path=_str(data, "path"),
        query=_str_map(data, "query"),
        headers=Headers(_str_map(data, "headers")),
        body=_body(data),
        message_id=message_id,
        receive_count=receive_count,
        raw=data,
    )


def _json_envelope(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedEnvelope("body is not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedEnvelope("envelope is not a JSON object")
    if data.get("v") != ENVELOPE_VERSION:
        raise MalformedEnvelope(f"unsupported envelope version {data.get('v')!r}")
    return data


def _text_envelope(body: str) -> dict[str, Any]:
    """Version 2, written by an HTTP API (ingress `http`): see runtime/textenvelope.py."""
    try:
        return parse_text_envelope(body)
    except TextEnvelopeError as exc:
        raise MalformedEnvelope(f"envelope v2: {exc}") from exc


def _str(data: dict[str, Any], key: str, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise MalformedEnvelope(f"{key!r} must be a string")
    return value


def _timestamp(data: dict[str, Any]) -> datetime:
    value = data.get("receivedAt")
    # bool is an int subclass; `true` is not a timestamp.
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedEnvelope("'receivedAt' must be integer epoch milliseconds")
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedEnvelope("'receivedAt' is out of range") from exc


def _str_map(data: dict[str, Any], key: str) -> dict[str, str]:
    value = data.get(key)
    if value is None:  # API Gateway renders an absent map as null in some setups.
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise MalformedEnvelope(f"{key!r} must map strings to strings")
    return dict(value)


def _body(data: dict[str, Any]) -> bytes:
    if "bodyText" in data:  # version 2 carries the body as the text SQS stored
        return str(data["bodyText"]).encode("utf-8")
    value = data.get("body", "")
    if not isinstance(value, str):
        raise MalformedEnvelope("'body' must be a base64 string")
    try:
        # validate=True: a corrupted body must not silently lose characters.
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise MalformedEnvelope("'body' is not valid base64") from exc
