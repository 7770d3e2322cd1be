"""What nami send signs, the runtime's verify() accepts; any change to the body is refused."""

from __future__ import annotations

import base64

import pytest

from nami_action.operate.signing import SIGNED_SCHEMES, SigningError, sign
from nami_action.runtime.verify import VerifySettings, verify
from nami_action.runtime.webhook import Headers

NOW = 1_700_000_000.0
BODY = b'{"action":"opened","number":7}\n'
STANDARD_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()

SETTINGS = [
    VerifySettings("github", "s3cr3t"),
    VerifySettings("shopify", "s3cr3t"),
    VerifySettings("stripe", "whsec_stripe"),
    VerifySettings("slack", "slack-signing"),
    VerifySettings("standard-webhooks", STANDARD_SECRET),
    VerifySettings("svix", STANDARD_SECRET),
    VerifySettings("hmac-sha256", "k", header="X-Signature"),
    VerifySettings("hmac-sha256", "k", header="X-Sig", encoding="base64", prefix="sha256="),
    VerifySettings("hmac-sha256", "k", header="X-Sig", encoding="hex", prefix="v1:"),
]


def ids(settings: VerifySettings) -> str:
    return f"{settings.scheme}-{settings.encoding}-{settings.prefix}"


def test_every_signed_scheme_is_covered() -> None:
    assert {s.scheme for s in SETTINGS} == set(SIGNED_SCHEMES)


@pytest.mark.parametrize("settings", SETTINGS, ids=ids)
def test_signed_webhook_is_accepted(settings: VerifySettings) -> None:
    headers = sign(settings, BODY, NOW)
    assert verify(settings, Headers(headers), BODY, NOW).ok


@pytest.mark.parametrize("settings", SETTINGS, ids=ids)
def test_tampered_body_is_rejected(settings: VerifySettings) -> None:
    headers = sign(settings, BODY, NOW)
    result = verify(settings, Headers(headers), BODY.replace(b"7", b"8"), NOW)
    assert not result.ok and result.reason == "signature mismatch"


@pytest.mark.parametrize("settings", SETTINGS, ids=ids)
def test_wrong_secret_is_rejected(settings: VerifySettings) -> None:
    headers = sign(settings, BODY, NOW)
    other = VerifySettings(
        settings.scheme,
        "whsec_" + base64.b64encode(b"another key").decode(),
        settings.header,
        settings.encoding,
        settings.prefix,
    )
    assert not verify(other, Headers(headers), BODY, NOW).ok


@pytest.mark.parametrize("scheme", ["stripe", "slack", "standard-webhooks", "svix"])
def test_timestamped_schemes_sign_now(scheme: str) -> None:
    settings = next(s for s in SETTINGS if s.scheme == scheme)
    headers = sign(settings, BODY, NOW)
    assert verify(settings, Headers(headers), BODY, NOW + 299).ok
    assert verify(settings, Headers(headers), BODY, NOW + 301).reason == "timestamp too old"


def test_exact_header_forms() -> None:
    github = sign(VerifySettings("github", "s3cr3t"), BODY, NOW)
    assert list(github) == ["X-Hub-Signature-256"]
    assert github["X-Hub-Signature-256"].startswith("sha256=")
    stripe = sign(VerifySettings("stripe", "x"), BODY, NOW)["Stripe-Signature"]
    assert stripe.startswith("t=1700000000,v1=")
    standard = sign(VerifySettings("standard-webhooks", STANDARD_SECRET), BODY, NOW, event_id="m1")
    assert standard["webhook-id"] == "m1" and standard["webhook-signature"].startswith("v1,")
    svix = sign(VerifySettings("svix", STANDARD_SECRET), BODY, NOW, event_id="m1")
    assert svix == {name.replace("webhook-", "svix-"): value for name, value in standard.items()}
    assert sign(VerifySettings("none"), BODY, NOW) == {}


def test_unusable_settings() -> None:
    with pytest.raises(SigningError, match="base64"):
        sign(VerifySettings("standard-webhooks", "not base64!"), BODY, NOW)
    with pytest.raises(SigningError, match="no secret"):
        sign(VerifySettings("github", ""), BODY, NOW)
    with pytest.raises(SigningError, match=r"cannot sign"):
        sign(VerifySettings("carrier-pigeon", "x"), BODY, NOW)
