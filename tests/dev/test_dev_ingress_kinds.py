"""`nami dev` serves every ingress kind over HTTP with the answers AWS gives, handshakes
included, and the consumer gets the same webhook through each kind's envelope."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import time
from collections.abc import Callable

from nami_action.dev.app import DevApp

from .helpers import Project, wait_for

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()  # valid for every scheme
PIPELINES = """
rest-in:
  verify: {scheme: github, secret: ssm:/devtest/gh}
  consumer: {code: consumer, handler: HANDLER}
http-in:
  ingress: http
  verify: {scheme: github, secret: ssm:/devtest/gh}
  consumer: {code: consumer, handler: HANDLER}
url-in:
  ingress: function-url
  verify: {scheme: slack, secret: ssm:/devtest/slack}
  consumer: {code: consumer, handler: HANDLER}
"""
SECRETS = {"rest-in": SECRET, "http-in": SECRET, "url-in": SECRET}


def request(
    app: DevApp,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, str, bytes]:
    host, port = app.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body, {"Content-Type": "application/json", **(headers or {})})
        answer = conn.getresponse()
        return answer.status, answer.getheader("Content-Type") or "", answer.read()
    finally:
        conn.close()


def github(body: bytes) -> dict[str, str]:
    return {
        "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, "sha256").hexdigest()
    }


def slack(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def test_every_kind_stores_a_signed_webhook_and_the_consumer_handles_it(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(PIPELINES)
    app = start_app(project, secrets=SECRETS)
    for n, (path, sign) in enumerate(
        [("/rest-in", github), ("/http-in", github), ("/url-in", slack)], start=1
    ):
        body = json.dumps({"n": n, "name": "Zo\u00eb"}).encode()
        status, _, answer = request(app, path, body, sign(body))
        assert status == 202, (path, answer)
        assert set(json.loads(answer)) == {"id", "messageId"}
    wait_for(lambda: sorted(project.numbers()) == [1, 2, 3], what="three handled webhooks")


def test_function_url_rejects_a_bad_signature_at_the_edge(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(PIPELINES)
    app = start_app(project, secrets=SECRETS)
    body = json.dumps({"n": 9}).encode()
    status, _, answer = request(app, "/url-in", body, slack(b"something else"))
    assert status == 401 and b"signature rejected" in answer
    # the REST kind stores it and the consumer rejects it later (nothing handled either way)
    assert request(app, "/rest-in", body, github(b"other"))[0] == 202
    time.sleep(1.0)
    assert project.numbers() == []


def test_function_url_answers_the_handshakes(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(PIPELINES)
    app = start_app(project, secrets=SECRETS)
    challenge = json.dumps({"type": "url_verification", "challenge": "c-123"}).encode()
    assert request(app, "/url-in", challenge, slack(challenge))[::2] == (200, b"c-123")
    zoom = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": "tok"}})
    status, _, answer = request(app, "/url-in", zoom.encode())
    expected = hmac.new(SECRET.encode(), b"tok", hashlib.sha256).hexdigest()
    assert (status, json.loads(answer)["encryptedToken"]) == (200, expected)
    meta = f"/url-in?hub.mode=subscribe&hub.verify_token={SECRET}&hub.challenge=987"
    status, content_type, answer = request(app, meta, method="GET")
    assert (status, answer) == (200, b"987") and content_type.startswith("text/plain")
    assert request(app, "/url-in?hub.mode=subscribe&hub.challenge=1", method="GET")[0] == 403
    time.sleep(0.5)
    assert project.numbers() == []  # no handshake reached the queue


def test_http_kind_answers_as_an_http_api(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(PIPELINES)
    app = start_app(project, secrets=SECRETS)
    assert request(app, "/http-in", method="GET")[0] == 404  # only the POST route exists
    binary = b"\xff\xfe\x00"
    assert request(app, "/http-in", binary, github(binary))[0] == 500  # SQS refuses it
    assert request(app, "/rest-in", b"{}", github(b"{}"), method="GET")[0] == 405
