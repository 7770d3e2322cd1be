"""Signature verification for the webhook schemes Nami knows. Pure: no AWS, no clock of its own.

Signed timestamps are compared with the moment API Gateway received the request (the
envelope's `receivedAt`, which the sender cannot set), never with the time of processing:
retries, backlogs and redrives from the dead-letter queue must still verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from .sns import STORE, Certificates, SnsError, check_message

DEFAULT_TOLERANCE = 300  # seconds; what Stripe, Slack and Standard Webhooks recommend.
# Schemes without a shared secret: `sns` checks an RSA signature with SNS's public key.
UNSIGNED_BY_SECRET = ("none", "sns")


@dataclass(frozen=True)
class VerifySettings:
    """The `verify` block of NAMI_CONFIG, with the secret already resolved."""

    scheme: str
    secret: str | None = None
    header: str | None = None
    encoding: str = "hex"
    prefix: str = ""
    tolerance: int = DEFAULT_TOLERANCE
    previous: str | None = None  # the secret being rotated out; also accepted
    topics: tuple[str, ...] = ()  # `sns`: the TopicArns accepted
    certificates: Certificates | None = None  # `sns`: where keys come from (None: SNS's hosts)

    def secrets(self) -> list[str | None]:
        return [self.secret] + ([self.previous] if self.previous else [])


@dataclass(frozen=True)
class VerifyResult:
    """Whether a webhook passed, and if not, why (safe to log: never the secret or body)."""

    ok: bool
    reason: str = ""


ACCEPTED = VerifyResult(True)
MISMATCH = "signature mismatch"

Verifier = Callable[[VerifySettings, Mapping[str, str], bytes, float], VerifyResult]


def verify(
    settings: VerifySettings, headers: Mapping[str, str], body: bytes, received_at: float
) -> VerifyResult:
    """Check one request. `headers` must be case-insensitive; `received_at` is epoch seconds
    of the request's receipt (signed timestamps are checked against it)."""
    verifier = SCHEMES.get(settings.scheme)
    if verifier is None:
        return VerifyResult(False, f"unknown scheme {settings.scheme!r}")
    if settings.scheme not in UNSIGNED_BY_SECRET and not settings.secret:
        return VerifyResult(False, "no secret configured")
    # The current secret first; during a rotation the previous one may still sign.
    first = verifier(settings, headers, body, received_at)
    if first.ok or first.reason != MISMATCH or not settings.previous:
        return first
    previous = replace(settings, secret=settings.previous, previous=None)
    return verifier(previous, headers, body, received_at)


def secret_problem(scheme: str, secret: str | None) -> str | None:
    """Why `secret` cannot verify `scheme` (None when it can). Checked at cold start, so a
    broken secret stops the function instead of rejecting every webhook."""
    if scheme in UNSIGNED_BY_SECRET:
        return None
    if not secret or not secret.strip():
        return "is empty"
    if scheme in ("standard-webhooks", "svix") and not standard_key(secret):
        return f"is not a base64 key (whsec_...) as {scheme} needs"
    return None


def _sns(
    settings: VerifySettings, headers: Mapping[str, str], body: bytes, received_at: float
) -> VerifyResult:
    try:
        message = json.loads(body)
    except ValueError:
        return VerifyResult(False, "not an SNS message (body is not JSON)")
    if not isinstance(message, dict):
        return VerifyResult(False, "not an SNS message (body is not a JSON object)")
    try:
        check_message(message, settings.topics, settings.certificates or STORE)
    except SnsError as exc:
        return VerifyResult(False, str(exc))
    return ACCEPTED


def _none(
    settings: VerifySettings, headers: Mapping[str, str], body: bytes, received_at: float
) -> VerifyResult:
    return ACCEPTED


def _github(
    settings: VerifySettings, headers: Mapping[str, str], body: bytes, received_at: float
) -> VerifyResult:
    name = settings.header or "X-Hub-Signature-256"
    given = headers.get(name)
    if given is None:
        return _missing(name)
    expected = "sha256=" + _hmac(_key(settings), body).hex()
    return _match(given.strip().lower(), expected)


def _shopify(
    settings: VerifySettings, headers: Mapping[str, str], body: bytes, received_at: float
) -> VerifyResult:
    name = settings.header or "X-Shopify-Hmac-Sha256"
    given = headers.get(name)
    if given is None:
        return _missing(name)
    expected = base64.b64encode(_hmac(_key(settings), body)).decode()
    return _match(given.strip(), expected)


def _hmac_sha256(
    settings: VerifySettings, headers: Mapping[str, str], body: bytes, received_at: float
) -> VerifyResult:
    if not settings.header:
        return VerifyResult(False, "hmac-sha256 needs a header name")
    given = headers.get(settings.header)
    if given is None:
        return _missing(settings.header)
    given = given.strip()
    if not given.startswith(settings.prefix):
        return VerifyResult(False, "signature prefix mismatch")
    given = given[len(settings.prefix) :]
    digest = _hmac(_key(settings), body)
    if settings.encoding == "base64":
        return _match(given, base64.b64encode(digest).decode())
    return _match(given.lower(), digest.hex())  # hex is case-insensitive by nature


def _stripe(
    settings: VerifySettings, headers: Mapping[str, str], body: bytes, received_at: float
) -> VerifyResult:
    name = settings.header or "Stripe-Signature"
    given = headers.get(name)
    if given is None:
        return _missing(name)
    fields = _pairs(given, ",", "=")
    timestamps = fields.get("t", [])
    timestamp = _epoch(timestamps[0]) if len(timestamps) == 1 else None
    if timestamp is None:
        return VerifyResult(False, "malformed signature header: no timestamp")
    stale = _check_time(timestamp, received_at, settings.tolerance)
    if stale:
        return stale
    signed = timestamps[0].encode() + b"." + body
    expected = _hmac(_key(settings), signed).hex()
    # Stripe sends several v1 entries while a secret is being rolled; any one may match.
    return _any_match([s.lower() for s in fields.get("v1", [])], expected)


def _slack(
    settings: VerifySettings, headers: Mapping[str, str], body: bytes, received_at: float
) -> VerifyResult:
    name = settings.header or "X-Slack-Signature"
    given = headers.get(name)
    timestamp = headers.get("X-Slack-Request-Timestamp")
    if given is None:
        return _missing(name)
    if timestamp is None:
        return _missing("X-Slack-Request-Timestamp")
    epoch = _epoch(timestamp)
    if epoch is None:
        return VerifyResult(False, "malformed timestamp header")
    stale = _check_time(epoch, received_at, settings.tolerance)
    if stale:
        return stale
    signed = b"v0:" + timestamp.strip().encode() + b":" + body
    expected = "v0=" + _hmac(_key(settings), signed).hex()
    return _match(given.strip().lower(), expected)


# Svix (the reference implementation, behind Clerk, Resend, ...) sends the same three values
# as svix-id / svix-timestamp / svix-signature; its verifier takes each svix-* header where
# present, else the webhook-* one (svix/webhooks.py, Webhook.verify). So does this one, except
# that an empty svix-* value counts as absent: `ingress: http` maps a header the sender did not
# send to an empty value, and no sender sends an empty one.
SVIX_HEADERS = {
    "webhook-id": "svix-id",
    "webhook-timestamp": "svix-timestamp",
    "webhook-signature": "svix-signature",
}


def _standard_webhooks(
    settings: VerifySettings, headers: Mapping[str, str], body: bytes, received_at: float
) -> VerifyResult:
    values: dict[str, str] = {}
    for name, svix in SVIX_HEADERS.items():
        value = headers.get(svix) or headers.get(name)
        if value is None:
            return _missing(name)
        values[name] = value.strip()
    epoch = _epoch(values["webhook-timestamp"])
    if epoch is None:
        return VerifyResult(False, "malformed timestamp header")
    stale = _check_time(epoch, received_at, settings.tolerance)
    if stale:
        return stale
    key = standard_key(settings.secret or "")
    if key is None:
        return VerifyResult(False, "secret is not valid base64")
    signed = f"{values['webhook-id']}.{values['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(_hmac(key, signed)).decode()
    # Each entry is "<version>,<signature>"; only v1 (HMAC-SHA256) is defined by the spec.
    given = [
        entry.partition(",")[2]
        for entry in values["webhook-signature"].split()
        if entry.partition(",")[0] == "v1"
    ]
    return _any_match(given, expected)


def standard_key(secret: str) -> bytes | None:
    """The HMAC key of a Standard Webhooks secret: base64 after an optional `whsec_`, with or
    without its `=` padding (the standardwebhooks library pads it, so providers hand out
    unpadded secrets); None when it is not base64 or decodes to nothing."""
    encoded = secret.strip().removeprefix("whsec_").rstrip("=")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        return None
    return key or None


def _key(settings: VerifySettings) -> bytes:
    return (settings.secret or "").encode()


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _pairs(header: str, sep: str, kv: str) -> dict[str, list[str]]:
    """Split "a=1,b=2,b=3" into {"a": ["1"], "b": ["2", "3"]}."""
    result: dict[str, list[str]] = {}
    for item in header.split(sep):
        key, found, value = item.strip().partition(kv)
        if found:
            result.setdefault(key, []).append(value)
    return result


def _epoch(value: str) -> int | None:
    # ASCII digits only: str.isdigit() also accepts "²", which int() then rejects.
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _check_time(timestamp: int, received_at: float, tolerance: int) -> VerifyResult | None:
    # Both directions: signed long before receipt may be a replay, after it a forged timestamp.
    if received_at - timestamp > tolerance:
        return VerifyResult(False, "timestamp too old")
    if timestamp - received_at > tolerance:
        return VerifyResult(False, "timestamp in the future")
    return None


def _missing(name: str) -> VerifyResult:
    return VerifyResult(False, f"missing header {name}")


def _match(given: str, expected: str) -> VerifyResult:
    return _any_match([given], expected)


def _any_match(candidates: list[str], expected: str) -> VerifyResult:
    if not candidates:
        return VerifyResult(False, "no signature of a supported version")
    want = expected.encode()
    # Compare every candidate (no early exit) and as bytes: compare_digest refuses non-ASCII str.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode("utf-8", "replace"), want)
    return ACCEPTED if matched else VerifyResult(False, MISMATCH)


SCHEMES: dict[str, Verifier] = {
    "none": _none,
    "github": _github,
    "stripe": _stripe,
    "shopify": _shopify,
    "slack": _slack,
    "standard-webhooks": _standard_webhooks,
    "svix": _standard_webhooks,  # the same algorithm; `ingress: http` maps the svix-* headers
    "hmac-sha256": _hmac_sha256,
    "sns": _sns,
}
