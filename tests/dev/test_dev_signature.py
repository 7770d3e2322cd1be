"""Signature verification in dev: a dev secret turns it on; without one it is off, loudly."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nami_action.config import load_config
from nami_action.dev.app import DevApp, DevOptions
from nami_action.dev.consumers import DevError, dev_secret, secret_env_name
from nami_action.dev.queue import Outgoing
from nami_action.envelope import IncomingRequest, decode_envelope, encode_envelope

from .helpers import DevProcess, Project, post, wait_for

PIPELINES = """
git-hub:
  verify:
    scheme: github
    secret: ssm:/devtest/github
  dedupe:
    header: X-GitHub-Delivery
  consumer:
    code: consumer
    handler: HANDLER
"""
SECRET = "It's a Secret to Everybody"


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}


def test_signed_webhook_is_handled_and_forged_one_is_not(
    make_project: Callable[..., Project], dev_process: Callable[..., DevProcess]
) -> None:
    project = make_project(PIPELINES)
    dev = dev_process(project, "--secret", f"git-hub={SECRET}")
    good, bad = json.dumps({"n": 1}).encode(), json.dumps({"n": 2}).encode()
    assert post(dev.url, "/git-hub", good, {**signed(good), "X-GitHub-Delivery": "a"})[0] == 202
    assert (
        post(dev.url, "/git-hub", bad, {**signed(bad, "wrong"), "X-GitHub-Delivery": "b"})[0] == 202
    )
    # the same delivery again, once the first was handled: dedupe (SQLite markers) drops it.
    # (Sent while the first still runs, the copy is retried later by design, "an earlier copy
    # has not finished": under CI load that retry came after the wait below.)
    wait_for(lambda: project.numbers() == [1], what="the first delivery handled")
    assert post(dev.url, "/git-hub", good, {**signed(good), "X-GitHub-Delivery": "a"})[0] == 202
    wait_for(lambda: "signature mismatch" in dev.output(), what="the rejection log line")
    wait_for(lambda: '"duplicate"' in dev.output(), what="the duplicate log line")
    assert project.numbers() == [1]
    assert "verify=github" in dev.output() and "NOT checked" not in dev.output()


def test_without_a_dev_secret_verification_is_off_with_a_warning(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = make_project(PIPELINES)
    out = io.StringIO()
    app = DevApp(
        load_config(project.config), DevOptions(port=0, data_dir=project.data, env={}), out
    )
    app.start()
    try:
        unsigned = json.dumps({"n": 3}).encode()
        assert post(app.url, "/git-hub", unsigned)[0] == 202
        wait_for(lambda: project.numbers() == [3], what="the unsigned webhook to be handled")
    finally:
        app.stop()
    assert "signatures are NOT checked" in out.getvalue()
    assert "NAMI_DEV_SECRET_GIT_HUB" in out.getvalue()


def test_dev_secret_comes_from_the_option_then_the_environment() -> None:
    assert secret_env_name("git-hub") == "NAMI_DEV_SECRET_GIT_HUB"
    env = {"NAMI_DEV_SECRET_GIT_HUB": "from-env"}
    assert dev_secret("git-hub", {"git-hub": "given"}, env) == "given"
    assert dev_secret("git-hub", {}, env) == "from-env"
    assert dev_secret("git-hub", {}, dict(os.environ) | {"NAMI_DEV_SECRET_GIT_HUB": ""}) is None


STRIPE = """
billing:
  verify:
    scheme: stripe
    secret: ssm:/devtest/stripe
  consumer:
    code: consumer
    handler: HANDLER
"""
HOUR = 3600


def stripe_signed(body: bytes, ts: int) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={ts},v1={digest}"}


def stored_earlier(n: int, received_at: int) -> Outgoing:
    """A webhook API Gateway stored at `received_at`, signed then: a backlog or a redrive."""
    body = json.dumps({"n": n}).encode()
    request = IncomingRequest(
        method="POST",
        path="/billing",
        headers={"Content-Type": "application/json", **stripe_signed(body, received_at)},
        body=body,
        request_id=f"req-{n}",
        received_at_ms=received_at * 1000,
    )
    return Outgoing("billing", f"m-{n}", encode_envelope(request), time.time())


def test_dev_checks_signed_timestamps_against_receipt_and_keeps_rejects(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(STRIPE)
    app = start_app(project, secrets={"billing": SECRET})
    now = int(time.time())
    # Received an hour ago and a week ago, handled only now: still valid.
    app.store.send([stored_earlier(1, now - HOUR), stored_earlier(2, now - 7 * 24 * HOUR)])
    app.store.send([Outgoing("billing", "m-junk", "not an envelope", time.time())])
    app.workers["billing"].notify()
    # Signed an hour before it reached the endpoint: a replay, rejected.
    replayed = json.dumps({"n": 3}).encode()
    assert post(app.url, "/billing", replayed, stripe_signed(replayed, now - HOUR))[0] == 202

    wait_for(lambda: len(app.store.dead_letters("billing")) == 2, what="two dead letters")
    wait_for(lambda: sorted(project.numbers()) == [1, 2], what="the two late webhooks")
    letters = {letter.outcome: letter for letter in app.store.dead_letters("billing")}
    assert letters["malformed"].body == "not an envelope"
    assert letters["malformed"].reason == "body is not JSON"
    assert letters["rejected"].reason == "timestamp too old"
    assert decode_envelope(letters["rejected"].body).body == replayed  # kept byte-exact
    # A worker stores a dead letter (or runs the handler) before it counts the outcome.
    counters = app.counters["billing"]
    wait_for(lambda: counters.snapshot().handled == 2, what="the handled count")
    wait_for(lambda: counters.snapshot().rejected == 1, what="the rejected count")
    snapshot = counters.snapshot()
    assert (snapshot.handled, snapshot.rejected, snapshot.malformed) == (2, 1, 1)


def test_dev_refuses_a_secret_its_scheme_cannot_use(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = make_project(PIPELINES.replace("scheme: github", "scheme: standard-webhooks"))
    app = DevApp(
        load_config(project.config),
        DevOptions(port=0, data_dir=project.data, env={}, secrets={"git-hub": "not base64!"}),
        io.StringIO(),
    )
    with pytest.raises(DevError, match="the dev secret is not a base64 key"):
        app.start()
