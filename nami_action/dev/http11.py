"""A lean HTTP/1.1 request reader and response writer for the dev endpoint.

http.server parses headers with the email package (about 100 µs a request here, a quarter of
the server's CPU per webhook), so the endpoint reads the few things it needs itself: request
line, header lines (CRLF-terminated), a Content-Length or chunked body. Anything unusual is
a 400, never a guess.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

MAX_HEAD = 65536  # bytes of request line and headers
MAX_HEADERS = 100
# RFC 9112 3.2: origin-form (`/path?query`) or absolute-form (`http://host/path?query`), of
# printable ASCII only: a control byte or non-ASCII byte is not part of any target.
_TARGET = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://[\x21-\x2e\x30-\x7e]+)?/[\x21-\x7e]*")
# RFC 9112 7.1: chunk-size is 1*HEXDIG; 16 digits are already far past any body we accept.
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class HttpError(Exception):
    """The request cannot be read; answer `status` and close the connection."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Head:
    """Request line and headers, as sent (names keep their spelling; order kept)."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def all(self, name: str) -> list[str]:
        """Every value of a header (case-insensitive), in order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def get(self, name: str) -> str | None:
        """The last value of a header (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in reversed(self.headers):
            if key.lower() == wanted:
                return value
        return None

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in (self.get("Connection") or "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


def _text(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")  # what http.server would have given


def parse_head(block: bytes) -> Head | None:
    """Request line and headers from the bytes up to the blank line; None if only blank lines
    (RFC 9112 2.2: empty lines before a request are ignored)."""
    lines = block.lstrip(b"\r\n").split(b"\r\n")
    if not lines[0]:
        return None
    parts = lines[0].decode("latin-1").split()
    if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(HTTPStatus.BAD_REQUEST, "Bad request line")
    if not _TARGET.fullmatch(parts[1]):
        raise HttpError(HTTPStatus.BAD_REQUEST, "Bad request target")
    head = Head(parts[0], parts[1], parts[2])
    for line in lines[1:]:
        if not line:
            continue  # the blank line that ends the head
        name, colon, value = _text(line).partition(":")
        if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            raise HttpError(HTTPStatus.BAD_REQUEST, "Bad header line")
        head.headers.append((name, value.strip(" \t")))
    if len(head.headers) > MAX_HEADERS:
        raise HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
    return head


def body_length(head: Head) -> int | None:
    """Content-Length, 0 without one, or None for a chunked body.

    Two framings that disagree are how requests get smuggled past a proxy (RFC 9112 6.3):
    Content-Length headers (or list members) with different values are a 400, and so is
    Transfer-Encoding together with Content-Length, or any coding but a single `chunked`."""
    encodings = head.all("Transfer-Encoding")
    lengths = [v.strip() for value in head.all("Content-Length") for v in value.split(",")]
    if encodings:
        if [e.strip().lower() for e in encodings] != ["chunked"] or lengths:
            raise HttpError(HTTPStatus.BAD_REQUEST, "Unsupported Transfer-Encoding")
        return None
    if not lengths:
        return 0
    if len(set(lengths)) > 1:
        raise HttpError(HTTPStatus.BAD_REQUEST, "Conflicting Content-Length")
    length = lengths[0]
    if not length.isascii() or not length.isdigit():
        raise HttpError(HTTPStatus.BAD_REQUEST, "Bad Content-Length")
    return int(length)


class TooLarge(Exception):
    """The body is larger than allowed."""


async def read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    """A chunked body, trailers skipped; TooLarge past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        line = await _line(reader)
        digits = line.split(b";", 1)[0].rstrip(b" \t\r\n")
        if not _CHUNK_SIZE.fullmatch(digits):
            raise HttpError(HTTPStatus.BAD_REQUEST, "Bad chunk size")
        chunk_size = int(digits, 16)
        if chunk_size == 0:
            while await _line(reader) != b"\r\n":
                pass  # trailers are not part of the webhook
            return b"".join(chunks)
        size += chunk_size
        if size > limit:
            raise TooLarge
        chunks.append(await reader.readexactly(chunk_size))
        if await reader.readexactly(2) != b"\r\n":
            raise HttpError(HTTPStatus.BAD_REQUEST, "Bad chunked body")


async def _line(reader: asyncio.StreamReader) -> bytes:
    """One CRLF-terminated line of a chunked body; a line past the reader's limit is a 400."""
    try:
        return await reader.readuntil(b"\r\n")
    except asyncio.LimitOverrunError:
        raise HttpError(HTTPStatus.BAD_REQUEST, "Bad chunked body") from None


def json_response(
    status: HTTPStatus,
    body: dict[str, Any],
    *,
    close: bool = False,
    extra: tuple[tuple[str, str], ...] = (),
    head_only: bool = False,
) -> bytes:
    """A whole response as bytes, for one write: one syscall, one packet."""
    data = json.dumps(body, separators=(",", ":")).encode()
    lines = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        "Server: nami-dev",
        f"Date: {_date()}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        *(f"{name}: {value}" for name, value in extra),
    ]
    if close:
        lines.append("Connection: close")
    payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return payload if head_only else payload + data


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_DATE: tuple[int, str] = (0, "")


def _date() -> str:
    """The Date header, formatted once a second."""
    global _DATE
    now = int(time.time())
    if _DATE[0] != now:
        _DATE = (now, formatdate(now, usegmt=True))
    return _DATE[1]
