"""Sign a webhook the way each provider does, so the runtime's verify() accepts it.

Pure: no network, no clock of its own. The input is the runtime's own VerifySettings, so the
header names, encodings and prefixes used to sign are exactly those the consumer checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from nami_action.config.models import SCHEMES
from nami_action.runtime.verify import VerifySettings, standard_key

# Every scheme nami can sign a test webhook for: not `sns` (signed by AWS's private key) nor `none`.
SIGNED_SCHEMES = tuple(scheme for scheme in SCHEMES if scheme not in ("sns", "none"))


class SigningError(ValueError):
    """The settings cannot produce a signature (unknown scheme, bad secret)."""


def sign(
    settings: VerifySettings, body: bytes, now: float, *, event_id: str | None = None
) -> dict[str, str]:
    """The headers that carry the signature of `body` under `settings.scheme`.

    `now` (epoch seconds) is the signed timestamp for the schemes that have one;
    `event_id` is Standard Webhooks' `webhook-id` (a fresh one when not given)."""
    scheme = settings.scheme
    if scheme == "none":
        return {}
    if scheme not in SIGNED_SCHEMES:
        raise SigningError(f"cannot sign for scheme {scheme!r}")
    if not settings.secret:
        raise SigningError("no secret to sign with")
    key = settings.secret.encode()
    timestamp = str(int(now))
    if scheme == "github":
        return {settings.header or "X-Hub-Signature-256": "sha256=" + _mac(key, body).hex()}
    if scheme == "shopify":
        digest = base64.b64encode(_mac(key, body)).decode()
        return {settings.header or "X-Shopify-Hmac-Sha256": digest}
    if scheme == "stripe":
        signature = _mac(key, timestamp.encode() + b"." + body).hex()
        return {settings.header or "Stripe-Signature": f"t={timestamp},v1={signature}"}
    if scheme == "slack":
        signature = _mac(key, b"v0:" + timestamp.encode() + b":" + body).hex()
        return {
            "X-Slack-Request-Timestamp": timestamp,
            settings.header or "X-Slack-Signature": f"v0={signature}",
        }
    if scheme in ("standard-webhooks", "svix"):
        headers = _standard_webhooks(settings.secret, body, timestamp, event_id)
        if scheme == "svix":  # the same values under Svix's names
            return {name.replace("webhook-", "svix-"): value for name, value in headers.items()}
        return headers
    # hmac-sha256: the pipeline names the header, the encoding and the prefix.
    if not settings.header:
        raise SigningError("hmac-sha256 needs a header name")
    mac = _mac(key, body)
    encoded = base64.b64encode(mac).decode() if settings.encoding == "base64" else mac.hex()
    return {settings.header: settings.prefix + encoded}


def _standard_webhooks(
    secret: str, body: bytes, timestamp: str, event_id: str | None
) -> dict[str, str]:
    key = standard_key(secret)
    if key is None:
        raise SigningError("a Standard Webhooks secret is base64 (optionally prefixed whsec_)")
    message_id = event_id or f"msg_{uuid.uuid4().hex}"
    signed = f"{message_id}.{timestamp}.".encode() + body
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(_mac(key, signed)).decode(),
    }


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()
