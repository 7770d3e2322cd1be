"""Envelope version 2: the one an API Gateway HTTP API (`ingress: http`) can write.

An HTTP API's SQS-SendMessage integration builds MessageBody by parameter mapping: static text
with `${request.header.name}`, `${context.name}` and `${request.body}` substituted verbatim. It
has no base64 and no JSON escaping, so the JSON envelope (version 1) is out of reach. This
variant is line-framed instead: HTTP header values and context values never hold a line break,
so every field is one line, and the body, inserted as is, comes last after an empty line.

    nami-envelope 2
    id: <$context.requestId>
    receivedAt: <$context.requestTimeEpoch, epoch ms>
    sourceIp: <$context.identity.sourceIp>
    method: <$context.httpMethod>
    path: <$context.path>
    header.<lower-case name>: <value; empty when the request did not carry it>
    <empty line>
    <the request body, as text>

The body is the UTF-8 of the text SQS stored: byte-exact for any UTF-8 body, which is why
`validate` refuses `http` where a sender may sign binary bodies.
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAGIC = "nami-envelope 2"
VERSION = 2
HEADER_PREFIX = "header."
FIELDS = ("id", "receivedAt", "sourceIp", "method", "path")


class TextEnvelopeError(ValueError):
    """The text claims to be a version 2 envelope but is not one."""


def format_text_envelope(
    fields: dict[str, str], headers: Sequence[tuple[str, str]], body: str
) -> str:
    """The envelope text; the compiler calls it with `${...}` references as the values, so the
    mapping template and the runtime's reader share this one definition."""
    lines = [MAGIC, *(f"{name}: {fields[name]}" for name in FIELDS)]
    lines += [f"{HEADER_PREFIX}{name.lower()}: {value}" for name, value in headers]
    return "\n".join(lines) + "\n\n" + body


def is_text_envelope(text: str) -> bool:
    return text.startswith(MAGIC + "\n")


def parse_text_envelope(text: str) -> dict[str, Any]:
    """The envelope as the version 1 dict (body base64-free: `bodyText`), or TextEnvelopeError."""
    head, separator, body = text.partition("\n\n")
    if not separator:
        raise TextEnvelopeError("no empty line before the body")
    lines = head.split("\n")[1:]
    data: dict[str, Any] = {"v": VERSION, "headers": {}, "query": {}, "bodyText": body}
    for line in lines:
        name, colon, value = line.partition(": ")
        if not colon:
            # "name: " with an empty value loses its trailing space nowhere but is still ": "
            name, colon, value = line.partition(":")
        if not colon:
            raise TextEnvelopeError(f"line without a colon: {line[:40]!r}")
        if name.startswith(HEADER_PREFIX):
            if value:  # a header the request did not carry maps to an empty value
                data["headers"][name[len(HEADER_PREFIX) :]] = value
        elif name in FIELDS:
            data[name] = value
        else:
            raise TextEnvelopeError(f"unknown field {name[:40]!r}")
    missing = [name for name in FIELDS if name not in data]
    if missing:
        raise TextEnvelopeError(f"missing {', '.join(missing)}")
    try:
        data["receivedAt"] = int(data["receivedAt"])
    except ValueError as exc:
        raise TextEnvelopeError("'receivedAt' must be integer epoch milliseconds") from exc
    return data
