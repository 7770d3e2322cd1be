"""The example consumers, called with real Webhooks against a local HTTP downstream."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from nami_action.runtime import Webhook, decode_envelope

from .runtime_builders import envelope

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "consumers"


class Downstream:
    """A local HTTP service that records requests and answers with a chosen status."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 201
        downstream = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                downstream.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(self.rfile.read(length)),
                    }
                )
                self.send_response(downstream.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _record

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def downstream() -> Iterator[Downstream]:
    service = Downstream()
    thread = threading.Thread(target=service.server.serve_forever, daemon=True)
    thread.start()
    yield service
    service.server.shutdown()
    service.server.server_close()


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / name / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def webhook(body: bytes, headers: dict[str, str]) -> Webhook:
    return decode_envelope(json.dumps(envelope(body, headers, request_id="req-1")))


def test_examples_do_not_import_the_build_tool() -> None:
    for path in EXAMPLES.glob("*/handler.py"):
        assert "nami_action" not in path.read_text(), path


# --- github -------------------------------------------------------------------------------


def github(event: str, payload: dict[str, Any]) -> Webhook:
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": "d-42"}
    return webhook(json.dumps(payload).encode(), headers)


REPO = {"full_name": "acme/shop", "default_branch": "main"}


def test_github_push_to_default_branch_triggers_one_keyed_build(
    downstream: Downstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_TRIGGER_URL", f"{downstream.url}/builds")
    handler = load("github_events")
    handler.handle(github("push", {"ref": "refs/heads/main", "after": "abc", "repository": REPO}))
    handler.handle(github("push", {"ref": "refs/heads/feature", "after": "d", "repository": REPO}))
    handler.handle(github("ping", {"zen": "Keep it logically awesome."}))

    (request,) = downstream.requests
    assert request["json"] == {"repository": "acme/shop", "sha": "abc", "reason": "push"}
    assert request["headers"]["Idempotency-Key"] == "d-42"


def test_github_pull_request_and_conflict_is_success(
    downstream: Downstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_TRIGGER_URL", f"{downstream.url}/builds")
    downstream.status = 409
    pr = {"action": "synchronize", "pull_request": {"number": 7, "head": {"sha": "f00"}}}
    load("github_events").handle(github("pull_request", pr | {"repository": REPO}))
    assert downstream.requests[0]["json"]["reason"] == "pr-7"


def test_github_downstream_error_raises_for_retry(
    downstream: Downstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_TRIGGER_URL", f"{downstream.url}/builds")
    downstream.status = 503
    with pytest.raises(OSError):
        load("github_events").handle(
            github("push", {"ref": "refs/heads/main", "after": "abc", "repository": REPO})
        )


# --- stripe -------------------------------------------------------------------------------


def test_stripe_books_paid_invoices_once_per_event_id(
    downstream: Downstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_URL", downstream.url + "/")
    monkeypatch.setenv("LEDGER_API_TOKEN", "tok")
    handler = load("stripe_billing")
    invoice = {"amount_paid": 1999, "currency": "eur", "customer": "cus_1"}
    event = {"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {"object": invoice}}
    handler.handle(webhook(json.dumps(event).encode(), {}))
    handler.handle(webhook(json.dumps(event | {"type": "customer.created"}).encode(), {}))

    (request,) = downstream.requests
    assert request["path"] == "/entries"
    assert request["headers"]["Idempotency-Key"] == "evt_1"
    assert request["headers"]["Authorization"] == "Bearer tok"
    assert request["json"]["amount"] == 1999 and request["json"]["direction"] == "credit"


# --- orders -------------------------------------------------------------------------------


def test_orders_accepts_json_and_form_bodies(
    downstream: Downstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDER_SERVICE_URL", downstream.url)
    handler = load("orders")
    as_json = json.dumps({"order_id": "A/1", "status": "packed", "version": 3}).encode()
    handler.handle(webhook(as_json, {"Content-Type": "application/json"}))
    as_form = b"order_id=A%2F1&status=shipped&version=4"
    handler.handle(webhook(as_form, {"content-type": "application/x-www-form-urlencoded"}))

    assert [(r["method"], r["path"]) for r in downstream.requests] == [
        ("PUT", "/orders/A%2F1/status"),
        ("PUT", "/orders/A%2F1/status"),
    ]
    assert [r["json"] for r in downstream.requests] == [
        {"status": "packed", "version": 3},
        {"status": "shipped", "version": 4},
    ]
    assert downstream.requests[1]["headers"]["Idempotency-Key"] == "A/1:4"


def test_orders_bad_update_raises_so_it_reaches_the_dead_letter_queue(
    downstream: Downstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDER_SERVICE_URL", downstream.url)
    handler = load("orders")
    with pytest.raises(handler.BadUpdate, match="unknown status"):
        handler.handle(webhook(b'{"order_id": "1", "status": "lost", "version": 1}', {}))
    with pytest.raises(handler.BadUpdate, match="missing or invalid field"):
        handler.handle(webhook(b'{"order_id": "1"}', {}))
    assert downstream.requests == []
