"""Signature schemes against vectors computed here with hmac/hashlib, not the runtime's code."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from nami_action.runtime import Headers, VerifySettings, verify

SECRET = "s3cr3t-value"
BODY = b'{"id":"evt_1","amount":1200}'
NOW = 1_700_000_000


def sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def check(
    scheme: str,
    headers: dict[str, str],
    body: bytes = BODY,
    secret: str | None = SECRET,
    now: float = NOW,
    **settings: Any,
) -> tuple[bool, str]:
    result = verify(VerifySettings(scheme, secret, **settings), Headers(headers), body, now)
    return result.ok, result.reason


def check_at(scheme: str, headers: dict[str, str], now: float, **settings: Any) -> tuple[bool, str]:
    return check(scheme, headers, now=now, **settings)


# --- github -------------------------------------------------------------------------------


def github_headers(secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + sha256(secret.encode(), body).hex()}


def test_github_valid_and_header_case_insensitive() -> None:
    assert check("github", github_headers()) == (True, "")
    lower = {k.lower(): v for k, v in github_headers().items()}
    assert check("github", lower) == (True, "")


def test_github_wrong_secret_tampered_missing() -> None:
    assert check("github", github_headers(secret="other")) == (False, "signature mismatch")
    assert check("github", github_headers(), body=BODY + b" ") == (False, "signature mismatch")
    assert check("github", {}) == (False, "missing header X-Hub-Signature-256")


def test_github_without_prefix_is_rejected() -> None:
    bare = {"X-Hub-Signature-256": sha256(SECRET.encode(), BODY).hex()}
    assert check("github", bare)[0] is False


# --- shopify ------------------------------------------------------------------------------


def shopify_headers(secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    digest = base64.b64encode(sha256(secret.encode(), body)).decode()
    return {"X-Shopify-Hmac-Sha256": digest}


def test_shopify() -> None:
    assert check("shopify", shopify_headers()) == (True, "")
    assert check("shopify", shopify_headers(secret="x")) == (False, "signature mismatch")
    assert check("shopify", shopify_headers(), body=b"{}") == (False, "signature mismatch")
    assert check("shopify", {}) == (False, "missing header X-Shopify-Hmac-Sha256")
    hex_instead = {"X-Shopify-Hmac-Sha256": sha256(SECRET.encode(), BODY).hex()}
    assert check("shopify", hex_instead)[0] is False


# --- stripe -------------------------------------------------------------------------------


def stripe_sig(ts: int, secret: str = SECRET, body: bytes = BODY) -> str:
    return sha256(secret.encode(), str(ts).encode() + b"." + body).hex()


def test_stripe_valid() -> None:
    header = f"t={NOW},v1={stripe_sig(NOW)}"
    assert check("stripe", {"Stripe-Signature": header}) == (True, "")


def test_stripe_several_signatures_one_valid() -> None:
    header = f"t={NOW},v1={stripe_sig(NOW, 'old')},v1={stripe_sig(NOW)},v0={'0' * 64}"
    assert check("stripe", {"stripe-signature": header}) == (True, "")


def test_stripe_only_v0_matching_is_rejected() -> None:
    header = f"t={NOW},v0={stripe_sig(NOW)}"
    assert check("stripe", {"Stripe-Signature": header}) == (
        False,
        "no signature of a supported version",
    )


def test_stripe_wrong_secret_tampered_missing_malformed() -> None:
    good = f"t={NOW},v1={stripe_sig(NOW)}"
    bad = f"t={NOW},v1={stripe_sig(NOW, 'wrong')}"
    assert check("stripe", {"Stripe-Signature": bad}) == (False, "signature mismatch")
    assert check("stripe", {"Stripe-Signature": good}, body=b"{}")[0] is False
    assert check("stripe", {}) == (False, "missing header Stripe-Signature")
    no_t = f"v1={stripe_sig(NOW)}"
    assert check("stripe", {"Stripe-Signature": no_t})[1].startswith("malformed")
    # A signature for another timestamp must not pass when t is swapped.
    swapped = f"t={NOW + 1},v1={stripe_sig(NOW)}"
    assert check("stripe", {"Stripe-Signature": swapped}) == (False, "signature mismatch")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (NOW + 300, (True, "")),
        (NOW - 300, (True, "")),
        (NOW + 301, (False, "timestamp too old")),
        (NOW - 301, (False, "timestamp in the future")),
    ],
)
def test_stripe_tolerance(now: int, expected: tuple[bool, str]) -> None:
    header = f"t={NOW},v1={stripe_sig(NOW)}"
    assert check_at("stripe", {"Stripe-Signature": header}, now, tolerance=300) == expected


# --- slack --------------------------------------------------------------------------------


def slack_headers(ts: int, secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    base = b"v0:" + str(ts).encode() + b":" + body
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": "v0=" + sha256(secret.encode(), base).hex(),
    }


def test_slack_valid_wrong_tampered_missing() -> None:
    assert check("slack", slack_headers(NOW)) == (True, "")
    assert check("slack", slack_headers(NOW, secret="no")) == (False, "signature mismatch")
    assert check("slack", slack_headers(NOW), body=b"x") == (False, "signature mismatch")
    assert check("slack", {}) == (False, "missing header X-Slack-Signature")
    only_sig = {"X-Slack-Signature": slack_headers(NOW)["X-Slack-Signature"]}
    assert check("slack", only_sig) == (False, "missing header X-Slack-Request-Timestamp")


def test_slack_non_ascii_digits_are_malformed_not_a_crash() -> None:
    headers = slack_headers(NOW) | {"X-Slack-Request-Timestamp": "²"}
    assert check("slack", headers) == (False, "malformed timestamp header")


def test_slack_expired_and_future() -> None:
    assert check_at("slack", slack_headers(NOW), NOW + 61, tolerance=60)[1] == "timestamp too old"
    assert check_at("slack", slack_headers(NOW), NOW - 61, tolerance=60)[1] == (
        "timestamp in the future"
    )
    assert check_at("slack", slack_headers(NOW), NOW + 60, tolerance=60) == (True, "")


# --- standard webhooks --------------------------------------------------------------------

KEY = bytes(range(32))
WHSEC = "whsec_" + base64.b64encode(KEY).decode()


def std_sig(msg_id: str, ts: int, key: bytes = KEY, body: bytes = BODY) -> str:
    signed = f"{msg_id}.{ts}.".encode() + body
    return "v1," + base64.b64encode(sha256(key, signed)).decode()


def std_headers(signature: str, ts: int = NOW, msg_id: str = "msg_2K") -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def test_standard_webhooks_valid_with_and_without_prefix() -> None:
    headers = std_headers(std_sig("msg_2K", NOW))
    assert check("standard-webhooks", headers, secret=WHSEC) == (True, "")
    bare = WHSEC.removeprefix("whsec_")
    assert check("standard-webhooks", headers, secret=bare) == (True, "")


def test_standard_webhooks_several_signatures_one_valid() -> None:
    other = std_sig("msg_2K", NOW, key=b"k" * 32)
    header = f"v1a,abc {other} {std_sig('msg_2K', NOW)}"
    assert check("standard-webhooks", std_headers(header), secret=WHSEC) == (True, "")


def test_standard_webhooks_ignores_other_signature_versions() -> None:
    # v1a is the asymmetric (ed25519) scheme: an HMAC value labelled v1a must not pass.
    hmac_value = std_sig("msg_2K", NOW).removeprefix("v1,")
    headers = std_headers(f"v1a,{hmac_value} v2,{hmac_value}")
    assert check("standard-webhooks", headers, secret=WHSEC) == (
        False,
        "no signature of a supported version",
    )


def test_standard_webhooks_rejections() -> None:
    wrong = std_headers(std_sig("msg_2K", NOW, key=b"x" * 32))
    assert check("standard-webhooks", wrong, secret=WHSEC) == (False, "signature mismatch")
    good = std_headers(std_sig("msg_2K", NOW))
    assert check("standard-webhooks", good, body=b"{}", secret=WHSEC)[0] is False
    # The id is signed: replaying the signature under another id fails.
    other_id = std_headers(std_sig("msg_2K", NOW), msg_id="msg_3")
    assert check("standard-webhooks", other_id, secret=WHSEC)[0] is False
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        partial = {k: v for k, v in good.items() if k != name}
        assert check("standard-webhooks", partial, secret=WHSEC) == (
            False,
            f"missing header {name}",
        )
    assert check("standard-webhooks", good, secret="whsec_***")[1] == "secret is not valid base64"


def test_standard_webhooks_expired_and_future() -> None:
    headers = std_headers(std_sig("msg_2K", NOW))
    settings = VerifySettings("standard-webhooks", WHSEC, tolerance=300)
    assert verify(settings, Headers(headers), BODY, NOW + 301).reason == "timestamp too old"
    assert verify(settings, Headers(headers), BODY, NOW - 301).reason == "timestamp in the future"
    assert verify(settings, Headers(headers), BODY, NOW - 299).ok


# --- generic hmac-sha256 ------------------------------------------------------------------


def test_hmac_hex_with_prefix() -> None:
    sig = "sha256=" + sha256(SECRET.encode(), BODY).hex()
    kw: dict[str, Any] = {"header": "X-Signature", "encoding": "hex", "prefix": "sha256="}
    assert check("hmac-sha256", {"x-signature": sig}, **kw) == (True, "")
    assert check("hmac-sha256", {"x-signature": sig.upper().replace("SHA256=", "sha256=")}, **kw)[0]
    assert check("hmac-sha256", {"x-signature": sig[len("sha256=") :]}, **kw) == (
        False,
        "signature prefix mismatch",
    )
    assert check("hmac-sha256", {"x-signature": sig}, body=b"", **kw)[0] is False
    assert check("hmac-sha256", {}, **kw) == (False, "missing header X-Signature")


def test_hmac_base64_without_prefix() -> None:
    sig = base64.b64encode(sha256(SECRET.encode(), BODY)).decode()
    kw: dict[str, Any] = {"header": "X-Sig", "encoding": "base64"}
    assert check("hmac-sha256", {"X-Sig": sig}, **kw) == (True, "")
    assert check("hmac-sha256", {"X-Sig": sig}, secret="nope", **kw)[0] is False
    hex_sig = sha256(SECRET.encode(), BODY).hex()
    assert check("hmac-sha256", {"X-Sig": hex_sig}, **kw)[0] is False
    # And the reverse: a base64 value does not pass a hex-configured check.
    assert check("hmac-sha256", {"X-Sig": sig}, header="X-Sig", encoding="hex")[0] is False


def test_hmac_needs_a_header_name() -> None:
    assert check("hmac-sha256", {}) == (False, "hmac-sha256 needs a header name")


# --- shared rules -------------------------------------------------------------------------


def test_none_accepts_anything() -> None:
    assert check("none", {}, secret=None) == (True, "")


def test_missing_secret_and_unknown_scheme_reject() -> None:
    assert check("github", github_headers(), secret=None) == (False, "no secret configured")
    assert check("md5", {})[0] is False


def test_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    assert check("github", {"X-Hub-Signature-256": "sha256=é"}) == (False, "signature mismatch")


def test_reason_never_contains_secret_or_body() -> None:
    for scheme in ("github", "stripe", "shopify", "slack", "standard-webhooks"):
        ok, reason = check(scheme, {"X-Hub-Signature-256": "x", "Stripe-Signature": "t=1,v1=0"})
        assert not ok
        assert SECRET not in reason and BODY.decode() not in reason
