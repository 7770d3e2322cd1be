"""What the inspector tests share: two pipelines (one verifying GitHub signatures, one that
dead-letters after two quick attempts) and HTTP helpers that send exactly the headers given."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
from typing import Any

from nami_action.dev.app import DevApp

SECRET = "inspector-test-secret"
PIPELINES = """
github:
  verify:
    scheme: github
    secret: ssm:/devtest/github
  consumer:
    code: consumer
    handler: HANDLER
orders:
  verify:
    scheme: none
  queue:
    max_receive_count: 2
  consumer:
    code: consumer
    handler: HANDLER
    retry:
      backoff: fixed
      initial: 1s
"""
API = {"X-Nami-Inspector": "1"}


def github_signature(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}


def request(
    app: DevApp,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers (Host too, when given)."""
    host, port = app.url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        given = headers or {}
        conn.putrequest(method, target, skip_host="Host" in given, skip_accept_encoding=True)
        for name, value in given.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def api(app: DevApp, method: str, target: str, data: Any = None) -> tuple[int, Any]:
    headers = dict(API)
    body = b""
    if data is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(data).encode()
    status, _, raw = request(app, method, f"/_nami/api/{target}", body, headers)
    return status, json.loads(raw)


def rows(app: DevApp) -> list[dict[str, Any]]:
    status, data = api(app, "GET", "webhooks")
    assert status == 200, data
    return list(data["webhooks"])
