"""Standard Webhooks as the vendors' own libraries sign and verify it: `standardwebhooks` and
`svix` (Clerk, Resend, ... send svix-id / svix-timestamp / svix-signature). For every header
set a sender may use, the runtime's verdict is the library's."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import svix

from nami_action.runtime import Headers, VerifySettings, verify
from nami_action.runtime.verify import secret_problem

KEY = bytes(range(32))  # base64 of 32 bytes ends in one "=": the unpadded form differs
PADDED = "whsec_" + base64.b64encode(KEY).decode()
UNPADDED = PADDED.rstrip("=")
BODY = b'{"type":"user.created","data":{"id":"user_1"}}'


def signed(secret: str, msg_id: str = "msg_1", body: bytes = BODY) -> tuple[str, str]:
    """(timestamp, signature) as svix signs a message now."""
    now = datetime.now(tz=UTC)
    return str(int(now.timestamp())), svix.Webhook(secret).sign(msg_id, now, body.decode())


def ours(secret: str, headers: dict[str, str], body: bytes = BODY) -> bool:
    settings = VerifySettings("standard-webhooks", secret)
    return verify(settings, Headers(headers), body, time.time()).ok


def theirs(secret: str, headers: dict[str, str], body: bytes = BODY) -> bool:
    try:
        svix.Webhook(secret).verify(body, headers)
    except svix.WebhookVerificationError:
        return False
    return True


def header_sets() -> dict[str, dict[str, str]]:
    ts, sig = signed(PADDED)
    _, wrong = signed("whsec_" + base64.b64encode(b"x" * 32).decode())
    svix_set = {"svix-id": "msg_1", "svix-timestamp": ts, "svix-signature": sig}
    standard = {"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": sig}
    return {
        "svix headers": svix_set,
        "webhook headers": standard,
        "both": {**svix_set, **standard},
        "svix wins over webhook": {**standard, **svix_set, "webhook-signature": wrong},
        "a bad svix signature is not rescued": {**svix_set, **standard, "svix-signature": wrong},
        "mixed sets": {"svix-id": "msg_1", "webhook-timestamp": ts, "svix-signature": sig},
        "svix id missing": {"svix-timestamp": ts, "svix-signature": sig},
        "another message's id": {**svix_set, "svix-id": "msg_2"},
    }


@pytest.mark.parametrize("case", list(header_sets()))
@pytest.mark.parametrize("secret", [PADDED, UNPADDED], ids=["padded", "unpadded"])
def test_runtime_agrees_with_svix(case: str, secret: str) -> None:
    headers = header_sets()[case]
    expected = theirs(secret, headers)
    assert ours(secret, headers) == expected, case
    assert expected == (
        case in {"svix headers", "webhook headers", "both", "svix wins over webhook", "mixed sets"}
    )


def test_standardwebhooks_library_signs_what_the_runtime_accepts() -> None:
    now = datetime.now(tz=UTC)
    signature = standardwebhooks.Webhook(UNPADDED).sign("msg_9", now, BODY)
    headers = {
        "webhook-id": "msg_9",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    standardwebhooks.Webhook(UNPADDED).verify(BODY, headers)  # the library accepts it
    assert ours(UNPADDED, headers) and ours(PADDED, headers)
    assert not ours(UNPADDED, headers, BODY + b" ")


def test_an_unpadded_secret_is_no_startup_problem() -> None:
    assert secret_problem("standard-webhooks", UNPADDED) is None
    assert secret_problem("standard-webhooks", "whsec_") is not None
    assert secret_problem("standard-webhooks", "whsec_not*base64") is not None


def test_empty_svix_headers_are_absent_ones() -> None:
    """`ingress: http` maps a header the sender did not send to an empty value; a webhook-*
    sender must still verify when the envelope also holds empty svix-* headers. (svix's own
    verifier would take the empty values and refuse; no sender sends them empty.)"""
    ts, sig = signed(PADDED)
    standard = {"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": sig}
    empty = {"svix-id": "", "svix-timestamp": "", "svix-signature": ""}
    assert ours(PADDED, {**standard, **empty})
    assert not ours(PADDED, empty)
