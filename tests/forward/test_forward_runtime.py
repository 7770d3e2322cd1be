"""The delivery function against a real destination on 127.0.0.1: what each answer means,
what is sent (bytes, headers, signature), the pacing, and what stops it at cold start."""

from __future__ import annotations

import base64
import json
import os
import socket
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from nami_action.runtime import entry
from nami_action.runtime.config import ConfigError
from nami_action.runtime.forward import (
    ForwardConfig,
    Forwarder,
    Refused,
    RetryLater,
    retry_after_seconds,
    sign,
    signing_key,
)
from nami_action.runtime.retry import RETRY_AFTER_CAP, RetrySchedule, retry_delay
from nami_action.runtime.webhook import Headers, Webhook

from .conftest import SECRET
from .destination import Answer, Destination, Received, Script

NOW = 1_700_000_000


def webhook(body: bytes = b'{"id": "evt_1"}', **headers: str) -> Webhook:
    return Webhook(
        id="req-1",
        received_at=datetime.fromtimestamp(NOW, tz=UTC),
        source_ip="203.0.113.9",
        method="POST",
        path="/v1/stripe",
        query={"b": "2", "a": "1"},
        headers=Headers({"Content-Type": "application/json", **headers}),
        body=body,
    )


def forwarder(url: str, **settings: object) -> Forwarder:
    config = ForwardConfig(url=url, base_path="/stripe", **settings)  # type: ignore[arg-type]
    return Forwarder(config, url, SECRET, dict(config.headers))


def answering(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Script:
    def script(received: Received, before: int) -> Answer:
        return status, headers or {}, body

    return script


def test_the_signature_is_the_standard_webhooks_one() -> None:
    key = signing_key(SECRET)
    when = datetime.fromtimestamp(NOW, tz=UTC)
    expected = StandardWebhook(SECRET).sign("msg_1", when, b"\xff\x00 raw")
    assert sign(key, "msg_1", NOW, b"\xff\x00 raw") == expected
    assert signing_key(SECRET.removeprefix("whsec_")) == key  # the prefix is optional
    with pytest.raises(ValueError, match="base64 of at least 16 bytes"):
        signing_key("whsec_tooshort")


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_delivered(destination: Destination, status: int) -> None:
    destination.script = answering(status)
    forwarder(destination.url)(webhook())
    assert destination.received[0].verified


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_408_429_and_5xx_are_retried(destination: Destination, status: int) -> None:
    destination.script = answering(status, {"Retry-After": "7"}, b"busy")
    with pytest.raises(RetryLater) as caught:
        forwarder(destination.url)(webhook())
    assert str(caught.value) == f"HTTP {status}: busy"
    assert caught.value.retry_after == 7


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422])
def test_other_4xx_are_refused_with_the_first_bytes_of_the_answer(
    destination: Destination, status: int
) -> None:
    destination.script = answering(status, body=b"x" * 500)
    with pytest.raises(Refused) as caught:
        forwarder(destination.url)(webhook())
    assert str(caught.value) == f"HTTP {status}: " + "x" * 200 + "…"


def test_a_redirect_is_refused_and_says_where(destination: Destination) -> None:
    destination.script = answering(301, {"Location": "https://new.example/hooks"})
    with pytest.raises(Refused, match=r"HTTP 301 redirect to https://new\.example/hooks"):
        forwarder(destination.url)(webhook())
    assert len(destination.received) == 1  # not followed


def test_a_slow_destination_times_out_and_is_retried(destination: Destination) -> None:
    destination.delay = 2.0
    with pytest.raises(RetryLater, match="no answer within 1s"):
        forwarder(destination.url, timeout=1)(webhook())


def test_a_closed_port_is_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RetryLater, match="connection failed: ConnectionRefusedError"):
        forwarder(f"http://127.0.0.1:{port}/")(webhook())


def test_the_sender_s_request_is_passed_on_byte_exact(destination: Destination) -> None:
    body = b"\x00\xffnot utf-8 \r\n"
    sent = webhook(
        body,
        **{
            "Stripe-Signature": "t=1,v1=abc",
            "X-Amzn-Trace-Id": "Root=1",
            "Connection": "keep-alive",
            "webhook-signature": "v1,sender",
            "X-Source": "sender",
            "Accept-Encoding": "gzip",
        },
    )
    forward = ForwardConfig(
        url=destination.url + "/in?k=v",
        base_path="/stripe",
        headers={"X-Source": "nami", "Authorization": "Bearer resolved"},
    )
    Forwarder(forward, forward.url, SECRET, forward.headers)(sent)

    (got,) = destination.received
    assert got.body == body
    assert got.path == "/in?k=v&a=1&b=2"
    assert got.headers["stripe-signature"] == "t=1,v1=abc"
    assert got.headers["x-source"] == "nami"  # nami.yaml's headers win
    assert got.headers["authorization"] == "Bearer resolved"
    assert got.headers["nami-original-webhook-signature"] == "v1,sender"
    assert "x-amzn-trace-id" not in got.headers
    assert got.headers["accept-encoding"] == "identity"  # so a refusal's reason is readable
    assert got.headers["webhook-id"] == "req-1"
    assert got.verified


def test_path_none_posts_to_the_url_as_written(destination: Destination) -> None:
    forwarder(destination.url + "/fixed", path="none")(webhook())
    assert destination.received[0].path == "/fixed"


def test_each_call_holds_its_slot_for_concurrency_over_rate() -> None:
    clock = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 6))
        clock[0] += seconds

    config = ForwardConfig(url="http://127.0.0.1:9/", base_path="/s", rate=4.0, concurrency=2)
    paced = Forwarder(config, config.url, SECRET, {}, monotonic=lambda: clock[0], sleep=sleep)

    def slow_delivery(item: Webhook) -> None:
        clock[0] += 0.1  # the request took 100 ms

    paced.deliver = slow_delivery  # type: ignore[method-assign,assignment]
    for _ in range(3):
        paced(webhook())
    assert sleeps == [0.4, 0.4, 0.4]  # 2 / 4 = 0.5 s per request, 0.1 s of it spent sending


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_seconds("120", NOW) == 120
    date = format_datetime(datetime.fromtimestamp(NOW + 30, tz=UTC), usegmt=True)
    assert retry_after_seconds(date, NOW) == 30
    assert retry_after_seconds(date, NOW + 60) == 0
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None


def test_retry_after_is_a_floor_on_the_schedule_and_capped() -> None:
    schedule = RetrySchedule("exponential", 10, 600)
    assert retry_delay(schedule, 1, None) == 10
    assert retry_delay(schedule, 1, 120) == 120
    assert retry_delay(schedule, 4, 5) == 80  # the schedule is longer
    assert retry_delay(schedule, 1, 10**6) == 600  # never beyond retry.max
    assert retry_delay(None, 1, None) is None  # the visibility timeout applies
    assert retry_delay(None, 1, 10**6) == RETRY_AFTER_CAP


def test_cold_start_refuses_a_missing_or_unusable_signing_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = {
        "pipeline": "stripe",
        "stack": "acme-stripe",
        "mode": "webhook",
        "handler": "handler.handle",
        "forward": ForwardConfig(url="https://a.example/", base_path="/stripe").to_json(),
    }
    monkeypatch.setenv("NAMI_CONFIG", json.dumps(settings))
    entry.reset()
    with pytest.raises(ConfigError, match="NAMI_FORWARD_SECRET is not set"):
        entry.build_consumer(dict(os.environ))
    short = base64.b64encode(b"short").decode()
    monkeypatch.setattr(entry, "resolve", lambda reference: short)
    monkeypatch.setenv("NAMI_FORWARD_SECRET", "arn:aws:secretsmanager:us-east-1:1:secret:x")
    with pytest.raises(ConfigError, match="forward: the forward signing secret must be base64"):
        entry.build_consumer(dict(os.environ))
