"""Signature verification in dev: a dev secret turns it on; without one it is off, loudly."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

from nami_action.config import load_config
from nami_action.dev.app import DevApp, DevOptions
from nami_action.dev.consumers import dev_secret, secret_env_name

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
    # the same delivery again: dedupe (SQLite markers) drops it
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
