"""`forward:` delivery: each verified webhook to an existing HTTP endpoint, paced and signed.

The destination gets the sender's method, body bytes and headers (hop-by-hop ones excepted),
plus a Standard Webhooks signature made with the pipeline's own nami secret, so it can verify
nami instead of the sender: a delivery delayed by a backlog or a retry is older than the
5-minute tolerance sender SDKs apply. https://www.standardwebhooks.com/

What the answer means (docs/where-a-webhook-can-end-up.md):
- 2xx: forwarded.
- 408, 429, 5xx, a timeout or a connection error: RetryLater, the consumer.retry schedule,
  no sooner than the destination's Retry-After.
- anything else (3xx, other 4xx): Refused, moved to the DLQ with the status and the first
  bytes of the answer as the reason (redrive it once the destination is fixed).

Pacing: each call holds its caller (one Lambda invocation, one `nami dev` worker) until
`spacing` = concurrency / rate seconds after its request started. At most `concurrency`
callers run at once (the event source mapping's MaximumConcurrency), so at most `rate`
requests start per second, whatever Lambda's scaling does: no state is shared.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from .webhook import Webhook

SECRET_PREFIX = "whsec_"
REASON_BYTES = 200  # of the destination's answer, kept in a refused webhook's reason
READ_LIMIT = 64 * 1024  # more than this of an answer is not read: the connection is closed
IDLE_REUSE = 1.0  # seconds: an older idle connection may have been closed by the server
RETRIED_STATUSES = frozenset({408, 429})
# Set per hop, by HTTP or by API Gateway; never passed on.
DROPPED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "proxy-authorization",
        "proxy-connection",
        # The reason of a refusal quotes the answer: it must come uncompressed.
        "accept-encoding",
    }
)
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# A sender's own Standard Webhooks headers are kept under this prefix (ours take their names).
ORIGINAL_PREFIX = "nami-original-"


class RetryLater(Exception):
    """The destination could not take it now (408, 429, 5xx, timeout, connection)."""

    def __init__(self, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Refused(Exception):
    """The destination refused it for good (3xx, 4xx but 408/429): dead-lettered."""


@dataclass(frozen=True)
class ForwardConfig:
    """NAMI_CONFIG's `forward`, as the compiler writes it (references, never secrets)."""

    url: str  # a URL, or a reference to one
    base_path: str  # the pipeline's path: what follows it in a request path is appended
    rate: float | None = None  # requests a second across all callers; None: unbounded
    concurrency: int = 10
    timeout: int = 30
    headers: dict[str, str] = field(default_factory=dict)  # values may be references
    path: str = "append"

    @property
    def spacing(self) -> float:
        return 0.0 if self.rate is None else self.concurrency / self.rate

    def references(self) -> list[str]:
        return [v for v in (self.url, *self.headers.values()) if _is_reference(v)]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ForwardConfig:
        url, base_path = data.get("url"), data.get("base_path")
        rate, concurrency, timeout = data.get("rate"), data.get("concurrency"), data.get("timeout")
        headers, path = data.get("headers") or {}, data.get("path", "append")
        if not isinstance(url, str) or not url or not isinstance(base_path, str):
            raise ValueError("forward.url and forward.base_path must be strings")
        if rate is not None and (not isinstance(rate, int | float) or rate <= 0):
            raise ValueError(f"forward.rate must be a positive number, got {rate!r}")
        for name, value in (("concurrency", concurrency), ("timeout", timeout)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"forward.{name} must be a positive integer, got {value!r}")
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValueError("forward.headers must map names to strings")
        if path not in ("append", "none"):
            raise ValueError(f"forward.path must be 'append' or 'none', got {path!r}")
        return cls(
            url,
            base_path,
            None if rate is None else float(rate),
            int(str(concurrency)),
            int(str(timeout)),
            dict(headers),
            str(path),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "base_path": self.base_path,
            "rate": self.rate,
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "headers": dict(sorted(self.headers.items())),
            "path": self.path,
        }


def _is_reference(value: str) -> bool:
    return value.startswith(("ssm:", "secretsmanager:"))


def signing_key(secret: str) -> bytes:
    """A Standard Webhooks secret (`whsec_` + base64, the prefix optional) -> the HMAC key."""
    text = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise ValueError("the forward signing secret must be base64 of at least 16 bytes")
    return key


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`: the Standard Webhooks signature."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def retry_after_seconds(value: str | None, now: float) -> int | None:
    """`Retry-After`: seconds or an HTTP date (RFC 9110, 10.2.3); None when absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0, int(when.timestamp() - now + 0.999))


@dataclass
class Target:
    """The destination URL split for http.client."""

    scheme: str
    host: str
    port: int | None
    path: str  # path and query of the URL as written

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the forward URL must be http(s)://host/...")
        path = parts.path or "/"
        return cls(parts.scheme, parts.hostname, parts.port, path + _query(parts.query))


def _query(query: str) -> str:
    return f"?{query}" if query else ""


class Forwarder:
    """The handler of a `forward` pipeline: one paced, signed request per webhook.

    Thread-safe: `nami dev` calls it from several workers (one connection each)."""

    def __init__(
        self,
        config: ForwardConfig,
        url: str,
        secret: str,
        headers: Mapping[str, str],
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.target = Target.parse(url)
        self._key = signing_key(secret)
        self._headers = dict(headers)
        self._clock, self._monotonic, self._sleep = clock, monotonic, sleep
        self._local = threading.local()
        self._tls = ssl.create_default_context() if self.target.scheme == "https" else None

    def __call__(self, webhook: Webhook) -> None:
        started = self._monotonic()
        try:
            self.deliver(webhook)
        finally:
            # Hold this caller until its slot may start the next request: the rate bound.
            wait = started + self.config.spacing - self._monotonic()
            if wait > 0:
                self._sleep(wait)

    def deliver(self, webhook: Webhook) -> None:
        """Send once; return on 2xx, else raise RetryLater or Refused."""
        headers = self.request_headers(webhook)
        try:
            status, answer, response_headers = self._exchange(
                webhook.method or "POST", self.request_path(webhook), webhook.body, headers
            )
        except TimeoutError:
            self._drop_connection()
            raise RetryLater(f"no answer within {self.config.timeout}s") from None
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            raise RetryLater(f"connection failed: {type(exc).__name__}: {exc}") from None
        if 200 <= status < 300:
            return
        reason = f"HTTP {status}: {_snippet(answer)}"
        if 300 <= status < 400 and response_headers.get("location"):
            reason = f"HTTP {status} redirect to {response_headers['location']}"
        if status in RETRIED_STATUSES or status >= 500:
            after = retry_after_seconds(response_headers.get("retry-after"), self._clock())
            raise RetryLater(reason, after)
        raise Refused(reason)

    def request_path(self, webhook: Webhook) -> str:
        """The URL's path and query, plus (`path: append`) what followed the pipeline's path
        in the request and the sender's query string."""
        if self.config.path == "none":
            return self.target.path
        path, _, query = self.target.path.partition("?")
        _, found, rest = webhook.path.partition(self.config.base_path.rstrip("/") + "/")
        if found and rest:
            path = path.rstrip("/") + "/" + rest
        sent = urllib.parse.urlencode(sorted(webhook.query.items()))
        return path + _query("&".join(q for q in (query, sent) if q))

    def request_headers(self, webhook: Webhook) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name in webhook.headers:
            lower = name.lower()
            if lower in DROPPED_HEADERS or lower.startswith("x-amzn-"):
                continue
            value = webhook.headers[name]
            if lower in SIGNATURE_HEADERS:
                headers[ORIGINAL_PREFIX + lower] = value
            else:
                headers[name] = value
        for name, value in self._headers.items():
            for existing in [k for k in headers if k.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value
        timestamp = int(self._clock())
        headers["webhook-id"] = webhook.id
        headers["webhook-timestamp"] = str(timestamp)
        headers["webhook-signature"] = sign(self._key, webhook.id, timestamp, webhook.body)
        return headers

    def _exchange(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        connection = self._connection()
        connection.request(method, path, body=body, headers=dict(headers))
        response = connection.getresponse()
        answer = response.read(READ_LIMIT)
        # Unread (more than READ_LIMIT, not worth reading on) or closing: a new one next time.
        if not response.isclosed() or response.will_close:
            self._drop_connection()
        self._local.used_at = self._monotonic()
        found = {k.lower(): v for k, v in response.getheaders()}
        return response.status, answer, found

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        idle = self._monotonic() - getattr(self._local, "used_at", 0.0)
        if connection is not None and idle > IDLE_REUSE:
            self._drop_connection()
            connection = None
        if connection is None:
            t = self.target
            if self._tls is not None:
                connection = http.client.HTTPSConnection(
                    t.host, t.port, timeout=self.config.timeout, context=self._tls
                )
            else:
                connection = http.client.HTTPConnection(t.host, t.port, timeout=self.config.timeout)
            self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()


def _snippet(answer: bytes) -> str:
    text = answer[:REASON_BYTES].decode("utf-8", "replace")
    text = " ".join(text.split())
    return (text + ("…" if len(answer) > REASON_BYTES else "")) or "(empty answer)"
