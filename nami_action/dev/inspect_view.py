"""The inspector's JSON views of a webhook: a row for the list, the details for one webhook
(headers, body pretty-printed or as hex), and the same request as a `curl` or `nami send`
command line. Everything here is data for the page, which only ever sets it as text."""

from __future__ import annotations

import json
import shlex
import string
import urllib.parse
from dataclasses import dataclass
from typing import Any

from nami_action.dev.history import QUEUED, Entry
from nami_action.runtime.consumer import MALFORMED, REJECTED
from nami_action.runtime.router import ROUTES_ATTRIBUTE
from nami_action.runtime.webhook import MalformedEnvelope, Webhook, decode_envelope

SHOWN_BYTES = 64 * 1024  # body bytes shown in the page (the copied commands carry all)
HEX_ROW = 16
# Set by the connection or by curl/nami send themselves; copying them would be wrong.
NOT_COPIED = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "expect", "keep-alive", "te"}
)
_PLAIN = frozenset(string.ascii_letters + string.digits + ' !"#$&()*+,-./:;<=>?@[]^_`{|}~')


@dataclass(frozen=True)
class PipelineInfo:
    name: str
    path: str
    ingress: str
    verify: str  # the scheme, `none`, or "<scheme>, not checked (no dev secret)"
    checks: bool  # signatures are checked here
    route: str | None = None  # a route's queue (`<pipeline>/<route>`): the route's name


def decoded(entry: Entry) -> Webhook | None:
    if entry.envelope is None:
        return None
    try:
        return decode_envelope(entry.envelope, entry.message_id)
    except MalformedEnvelope:
        return None


def verification(entry: Entry, pipeline: PipelineInfo) -> str:
    """What the signature check said, in the words of the outcome."""
    if entry.outcome == REJECTED:
        where = " (at the endpoint, not stored)" if entry.at_endpoint else ""
        return (f"failed: {entry.reason}" if entry.reason else "failed") + where
    if entry.outcome == MALFORMED:
        return "not checked (malformed envelope)"
    if pipeline.route is not None:
        return "by the router"
    if not pipeline.checks:
        return "off" if pipeline.verify == "none" else "not checked (no dev secret)"
    if entry.outcome == QUEUED or entry.attempts == 0:
        return "pending"
    return f"ok ({pipeline.verify})"


def row(entry: Entry, pipeline: PipelineInfo) -> dict[str, Any]:
    webhook = decoded(entry)
    return {
        "key": entry.key,
        "pipeline": entry.pipeline,
        "messageId": entry.message_id,
        "id": webhook.id if webhook else entry.webhook_id,
        "time": round((webhook.received_at.timestamp() if webhook else entry.stored_at) * 1000),
        "method": webhook.method if webhook else None,
        "path": webhook.path if webhook else None,
        "route": entry.route or pipeline.route,
        "verification": verification(entry, pipeline),
        "outcome": entry.outcome,
        "attempts": entry.attempts,
        "reason": entry.reason,
        "error": entry.error,
        "dead": entry.dead,
        "origin": entry.origin,
        "owed": entry.attributes.get(ROUTES_ATTRIBUTE),  # a router's put-back copy: its routes
        "size": len(webhook.body) if webhook else None,
        "replayable": entry.envelope is not None and not entry.at_endpoint,
        "version": entry.version,
    }


def detail(entry: Entry, pipeline: PipelineInfo, base_url: str, config_file: str) -> dict[str, Any]:
    data = row(entry, pipeline)
    webhook = decoded(entry)
    if webhook is None:
        data["note"] = (
            "the envelope cannot be decoded (malformed)"
            if entry.envelope is not None
            else "received before this nami dev started: only its outcome is known"
        )
        data["raw"] = entry.envelope
        return data
    headers = _headers(webhook)
    data["query"] = dict(webhook.query)
    data["headers"] = [[name, value] for name, value in headers]
    data["body"] = body_view(webhook.body, _content_type(headers))
    url = request_url(base_url, webhook.path, webhook.query)
    data["curl"] = curl_command(url, headers, webhook.body)
    data["send"] = send_command(entry.pipeline, config_file, url, headers, webhook.body)
    return data


def body_view(body: bytes, content_type: str) -> dict[str, Any]:
    """JSON pretty-printed, other text as is, anything else (or invalid UTF-8) as hex."""
    shown = body[:SHOWN_BYTES]
    view: dict[str, Any] = {"size": len(body), "truncated": len(body) > len(shown)}
    text = _text(shown) if len(body) <= SHOWN_BYTES else _text_prefix(shown)
    if text is None:
        return {**view, "kind": "hex", "text": hex_dump(shown)}
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            pretty = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except ValueError:
            pass
        else:
            return {**view, "kind": "json", "text": pretty, "truncated": False}
    return {**view, "kind": "text", "text": text}


def hex_dump(data: bytes) -> str:
    lines = []
    for offset in range(0, len(data), HEX_ROW):
        chunk = data[offset : offset + HEX_ROW]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        chars = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<{HEX_ROW * 3 - 1}}  {chars}")
    return "\n".join(lines)


def request_url(base_url: str, path: str, query: dict[str, str]) -> str:
    encoded = urllib.parse.urlencode(query)
    return f"{base_url}{urllib.parse.quote(path, safe='/%:@!$&()*+,;=-._~')}" + (
        f"?{encoded}" if encoded else ""
    )


def curl_command(url: str, headers: list[tuple[str, str]], body: bytes) -> str:
    """The same request with curl: the exact body bytes on stdin (a body starting with `@`
    or holding a NUL byte cannot be an argument)."""
    parts = ["curl", "-sS", "-X", "POST", shlex.quote(url)]
    for name, value in headers:
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    parts += ["--data-binary", "@-"]
    return f"{printf(body)} | {' '.join(parts)}"


def send_command(
    pipeline: str, config_file: str, url: str, headers: list[tuple[str, str]], body: bytes
) -> str:
    parts = ["nami", "send", shlex.quote(pipeline), "--config", shlex.quote(config_file)]
    parts += ["--url", shlex.quote(url)]
    for name, value in headers:
        parts += ["--header", shlex.quote(f"{name}: {value}")]
    parts += ["--body", "/dev/stdin"]
    return f"{printf(body)} | {' '.join(parts)}"


def printf(body: bytes) -> str:
    """A POSIX printf writing exactly `body` (octal escapes: dash's printf has no \\x)."""
    text = _text(body)
    if text is not None and "\x00" not in text:
        return f"printf '%s' {shlex.quote(text)}"
    escaped = "".join(chr(b) if chr(b) in _PLAIN else f"\\{b:03o}" for b in body)
    return f"printf '{escaped}'"


def _headers(webhook: Webhook) -> list[tuple[str, str]]:
    raw = webhook.raw.get("headers")
    source = raw if isinstance(raw, dict) else dict(webhook.headers)
    return [(str(k), str(v)) for k, v in source.items() if str(k).lower() not in NOT_COPIED]


def _content_type(headers: list[tuple[str, str]]) -> str:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.lower()
    return ""


def _text_prefix(data: bytes) -> str | None:
    """A cut-off body is text when it only ends inside a UTF-8 character."""
    for cut in range(4):
        text = _text(data[: len(data) - cut])
        if text is not None:
            return text
    return None


def _text(data: bytes) -> str | None:
    """The bytes as text when they are UTF-8 without control characters (but tab, CR, LF)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any((ord(c) < 0x20 and c not in "\t\r\n") or c == "\x7f" for c in text):
        return None
    return text
