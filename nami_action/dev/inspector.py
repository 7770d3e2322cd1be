"""The inspector: `nami dev` serves a page at /_nami/ showing webhooks as they arrive.

One static file (static/inspector.html: HTML, CSS and script inline, no build step, nothing
from a CDN) polls a small JSON API on the same port. The page shows bytes a sender chose, so:
- the page sets every value as text (textContent), never as markup, and a strict
  Content-Security-Policy allows only its own inline script and style (by their SHA-256), no
  other source, no framing;
- every request must name this machine in its Host header (127.0.0.1, localhost, ::1, or
  the --host given): a DNS-rebinding page (evil.example resolving to 127.0.0.1) is refused;
- the API answers only requests carrying the X-Nami-Inspector header, which a cross-origin
  page cannot send without a CORS preflight that is never granted; writes (replay, redrive)
  must also be same-origin when the browser says where they come from (Origin,
  Sec-Fetch-Site) and be JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from typing import Any

from nami_action.dev.consumers import DevError
from nami_action.dev.history import History
from nami_action.dev.http11 import Head, json_response
from nami_action.dev.inspect_view import PipelineInfo, detail, row
from nami_action.dev.queue import Outgoing, Store, StoreError
from nami_action.dev.server import INSPECTOR_PREFIX

PREFIX = INSPECTOR_PREFIX  # the server sends everything under it here
API_HEADER = "X-Nami-Inspector"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD = frozenset({"", "0.0.0.0", "::"})

Submit = Callable[[Outgoing, Callable[[StoreError | None], None]], None]
Notify = Callable[[str, int], None]


class Refused(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_paths(paths: list[str]) -> None:
    """The inspector owns /_nami: a pipeline there would be unreachable."""
    for path in paths:
        if path == PREFIX or path.startswith(PREFIX + "/"):
            raise DevError(f"pipeline path {path} is taken by the nami dev inspector ({PREFIX}/)")


@dataclass(frozen=True)
class Page:
    html: bytes
    csp: str

    @classmethod
    def load(cls) -> Page:
        html = resources.files("nami_action.dev").joinpath("static/inspector.html").read_bytes()
        return cls(html, content_security_policy(html))


def content_security_policy(html: bytes) -> str:
    """Only the page's own inline script and style run (by hash); nothing else loads."""
    scripts = _hashes(rb"<script>(.*?)</script>", html)
    styles = _hashes(rb"<style>(.*?)</style>", html)
    return (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; connect-src 'self'; "
        "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _hashes(pattern: bytes, html: bytes) -> str:
    found = re.findall(pattern, html, re.DOTALL)
    digests = [base64.b64encode(hashlib.sha256(block).digest()).decode() for block in found]
    return " ".join(f"'sha256-{d}'" for d in digests) or "'none'"


class Inspector:
    """Answers every request under /_nami (a whole HTTP response as bytes)."""

    def __init__(
        self,
        history: History,
        pipelines: dict[str, PipelineInfo],
        store: Store,
        submit: Submit,
        notify: Notify,
        config_file: str,
    ) -> None:
        self.history = history
        self.pipelines = pipelines
        self._store = store
        self._submit = submit
        self._notify = notify
        self._config_file = config_file
        self._page = Page.load()
        self._instance = secrets.token_hex(8)  # a new run: the page starts over
        self._hosts: frozenset[str] = LOOPBACK
        self._port = 0
        self.base_url = ""

    def bind(self, address: tuple[str, int], host_option: str) -> None:
        """The address the server listens on: the Host names requests may carry."""
        host, self._port = address
        named = host_option.strip("[]").lower()
        self._hosts = LOOPBACK | ({named} if named not in WILDCARD else set())
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{self._port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}{PREFIX}/"

    def answer(self, head: Head, path: str, query: str, body: bytes) -> bytes:
        try:
            self._check_host(head)
            return self._route(head, path, query, body)
        except Refused as exc:
            return _json(exc.status, {"message": str(exc)})

    def _route(self, head: Head, path: str, query: str, body: bytes) -> bytes:
        if path == PREFIX:
            return _response(
                HTTPStatus.PERMANENT_REDIRECT, b"", "text/plain", [("Location", "/_nami/")]
            )
        if path == PREFIX + "/":
            _method(head, "GET")
            return _response(
                HTTPStatus.OK,
                self._page.html,
                "text/html; charset=utf-8",
                [("Content-Security-Policy", self._page.csp)],
            )
        endpoints: dict[str, tuple[str, Callable[[dict[str, str], Any], dict[str, Any]]]] = {
            "/api/webhooks": ("GET", self._webhooks),
            "/api/webhook": ("GET", self._webhook),
            "/api/replay": ("POST", self._replay),
            "/api/redrive": ("POST", self._redrive),
        }
        endpoint = endpoints.get(path.removeprefix(PREFIX))
        if endpoint is None:
            raise Refused(HTTPStatus.NOT_FOUND, "Not Found")
        method, handler = endpoint
        _method(head, method)
        if head.get(API_HEADER) != "1":
            raise Refused(HTTPStatus.FORBIDDEN, f"the inspector API needs the {API_HEADER} header")
        params = dict(urllib.parse.parse_qsl(query))
        data = self._same_origin_json(head, body) if method == "POST" else None
        status = HTTPStatus.ACCEPTED if method == "POST" else HTTPStatus.OK
        return _json(status, handler(params, data))

    # --- guards --------------------------------------------------------------------------
    def _check_host(self, head: Head) -> None:
        host = head.get("Host")
        name, port = _split_host(host or "")
        if name not in self._hosts or port not in (None, self._port):
            raise Refused(
                HTTPStatus.MISDIRECTED_REQUEST,
                "the inspector answers only requests for this machine (Host 127.0.0.1 or "
                "localhost); pass --host to name another",
            )

    def _same_origin_json(self, head: Head, body: bytes) -> Any:
        origin = head.get("Origin")
        if origin is not None and origin != f"http://{head.get('Host')}":
            raise Refused(HTTPStatus.FORBIDDEN, "cross-origin request refused")
        if (head.get("Sec-Fetch-Site") or "same-origin") not in ("same-origin", "none"):
            raise Refused(HTTPStatus.FORBIDDEN, "cross-site request refused")
        media = (head.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        try:
            return json.loads(body)
        except ValueError:
            raise Refused(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None

    # --- endpoints -----------------------------------------------------------------------
    def _webhooks(self, params: dict[str, str], _: Any) -> dict[str, Any]:
        self.history.reconcile()
        after = _int(params.get("after"), 0)
        if params.get("instance") != self._instance or after > self.history.version:
            after = 0
        dead = self.history.dead_counts()
        return {
            "instance": self._instance,
            "version": self.history.version,
            "reset": after == 0,
            "pipelines": [
                {
                    "name": p.name,
                    "path": p.path,
                    "url": f"{self.base_url}{p.path}",
                    "ingress": p.ingress,
                    "verify": p.verify,
                    "dead": dead.get(p.name, 0),
                }
                for p in self.pipelines.values()
            ],
            "webhooks": [
                row(e, self.pipelines[e.pipeline]) for e in self.history.changed_since(after)
            ],
        }

    def _webhook(self, params: dict[str, str], _: Any) -> dict[str, Any]:
        entry = self.history.get(_int(params.get("key"), 0))
        if entry is None:
            raise Refused(HTTPStatus.NOT_FOUND, "no such webhook (forgotten or never seen)")
        info = self.pipelines[entry.pipeline]
        return detail(entry, info, self.base_url, self._config_file)

    def _replay(self, _: dict[str, str], data: Any) -> dict[str, Any]:
        """The same envelope (same id, same receivedAt, so signatures still verify) stored
        again as a new message, as `nami replay` does with an exported dead letter."""
        key = data.get("key") if isinstance(data, dict) else None
        entry = self.history.get(key) if isinstance(key, int) else None
        if entry is None:
            raise Refused(HTTPStatus.NOT_FOUND, "no such webhook (forgotten or never seen)")
        if entry.envelope is None or entry.at_endpoint:
            raise Refused(HTTPStatus.CONFLICT, "this webhook was never stored; send it again")
        message_id = str(uuid.uuid4())
        self.history.expect(message_id, f"replay of #{entry.key}")
        try:
            # With its attributes: a router's put-back copy goes to the routes it owes only.
            copy = Outgoing(
                entry.pipeline, message_id, entry.envelope, time.time(), entry.attributes
            )
            self._submit(copy, _done)
        except StoreError as exc:
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, f"not stored: {exc}") from None
        return {"messageId": message_id, "pipeline": entry.pipeline}

    def _redrive(self, _: dict[str, str], data: Any) -> dict[str, Any]:
        """Every dead letter of the pipeline back to its queue, in one transaction."""
        name = data.get("pipeline") if isinstance(data, dict) else None
        if not isinstance(name, str) or name not in self.pipelines:
            raise Refused(HTTPStatus.NOT_FOUND, "no such pipeline")
        moved = self._store.redrive(name, time.time())
        if moved:
            self._notify(name, moved)
        self.history.reconcile(force=True)
        return {"moved": moved, "pipeline": name}


def _done(error: StoreError | None) -> None:
    """A replay's commit result: a failure shows as no new row (the page said "stored" only
    for the hand-over)."""


def _method(head: Head, wanted: str) -> None:
    if head.method != wanted:
        raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, "Method Not Allowed")


def _split_host(host: str) -> tuple[str, int | None]:
    """`name[:port]` or `[v6]:port` -> (lower-case name, port or None)."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        name, _, port = host.partition(":")
    return name, int(port) if port.isdigit() else None


def _int(value: str | None, default: int) -> int:
    return int(value) if value is not None and value.isdigit() else default


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)


def _json(status: HTTPStatus, body: dict[str, Any]) -> bytes:
    return json_response(status, body, extra=SECURITY_HEADERS)


def _response(
    status: HTTPStatus, body: bytes, content_type: str, extra: list[tuple[str, str]]
) -> bytes:
    lines = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        "Server: nami-dev",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in (*SECURITY_HEADERS, *extra)),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
