"""`nami dev` as a newcomer meets it: Svix senders and secret rotation, one environment per
pipeline, and a failing handler's traceback on the terminal and in consumer.log at once."""

from __future__ import annotations

import base64
import io
import json
import os
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
import svix
from cryptography.hazmat.primitives.asymmetric import rsa

from nami_action.cli.dev import _secrets
from nami_action.config import load_config
from nami_action.dev.app import LOG_NAME, DevApp, DevOptions
from nami_action.dev.consumers import DevError, DevSecrets, verify_settings
from nami_action.runtime import Headers, verify
from tests.runtime.test_sns import (  # noqa: F401  (certificate, cert_server: fixtures)
    NOW,
    OTHER_TOPIC,
    TOPIC,
    CertServer,
    cert_server,
    certificate,
    notification,
    private_key,
    signed,
    store_for,
)

from .helpers import Project, post, wait_for

CLERK = """
clerk:
  verify:
    scheme: standard-webhooks
    secret: ssm:/devtest/clerk
  consumer:
    code: consumer
    handler: HANDLER
"""
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode().rstrip("=")  # unpadded, as handed out
OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"x" * 32).decode()


def svix_signed(secret: str, body: bytes, msg_id: str, svix_names: bool) -> dict[str, str]:
    now = datetime.now(tz=UTC)
    signature = svix.Webhook(secret).sign(msg_id, now, body.decode())
    prefix = "svix" if svix_names else "webhook"
    return {
        f"{prefix}-id": msg_id,
        f"{prefix}-timestamp": str(int(now.timestamp())),
        f"{prefix}-signature": signature,
    }


def test_svix_headers_an_unpadded_secret_and_a_rotation_are_accepted(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(CLERK)
    app = start_app(project, secrets={"clerk": NEW}, previous_secrets={"clerk": OLD})
    cases = [(1, NEW, True), (2, OLD, False), (3, NEW, False), (4, OTHER, True)]
    for n, secret, svix_names in cases:
        body = json.dumps({"n": n}).encode()
        headers = svix_signed(secret, body, f"msg_{n}", svix_names)
        assert post(app.url, "/clerk", body, headers)[0] == 202
    wait_for(lambda: sorted(project.numbers()) == [1, 2, 3], what="three verified webhooks")
    wait_for(lambda: len(app.store.dead_letters("clerk")) == 1, what="the forged one kept")
    (forged,) = app.store.dead_letters("clerk")
    assert (forged.outcome, forged.reason) == ("rejected", "signature mismatch")


def test_a_broken_previous_secret_stops_nami_dev(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(CLERK)
    with pytest.raises(DevError, match="the previous dev secret is not a base64 key"):
        start_app(project, secrets={"clerk": NEW}, previous_secrets={"clerk": "whsec_*"})


def test_secret_option_once_or_twice_per_pipeline() -> None:
    assert _secrets(("a=1", "b=2", "a=0")) == ({"a": "1", "b": "2"}, {"a": "0"})
    with pytest.raises(click.BadParameter, match="more than two secrets"):
        _secrets(("a=1", "a=2", "a=3"))


HANDLER = """
import json, os

AT_IMPORT = os.environ.get("COLOR")
SEEN = {seen!r}


def handle(webhook):
    if webhook.json().get("fail"):
        raise_it()
    with open(SEEN, "a") as f:
        f.write(json.dumps({{"path": webhook.path, "color": os.environ.get("COLOR"),
                            "getenv": os.getenv("COLOR"), "shade": os.getenv("SHADE"),
                            "at_import": AT_IMPORT}}) + "\\n")


def raise_it():
    raise RuntimeError("asked to fail")
"""

ENVIRONMENTS = """
version: 1
project: devenv
pipelines:
  red:
    verify: {scheme: none}
    consumer: {code: red, handler: colors.handle, environment: {COLOR: red}}
  blue:
    verify: {scheme: none}
    consumer: {code: blue, handler: colors.handle, environment: {COLOR: blue, SHADE: dark}}
  plain:
    verify: {scheme: none}
    consumer: {code: plain, handler: colors.handle}
"""


@pytest.fixture
def colors(tmp_path: Path) -> Iterator[tuple[DevApp, Path, io.StringIO]]:
    seen = tmp_path / "seen.jsonl"
    for folder in ("red", "blue", "plain"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "colors.py").write_text(HANDLER.format(seen=str(seen)))
    (tmp_path / "nami.yaml").write_text(textwrap.dedent(ENVIRONMENTS))
    out = io.StringIO()
    app = DevApp(
        load_config(tmp_path / "nami.yaml"),
        DevOptions(port=0, data_dir=tmp_path / "data", env={}),
        out,
    )
    app.start()
    try:
        yield app, seen, out
    finally:
        app.stop()


def test_each_pipeline_sees_its_own_environment_only(
    colors: tuple[DevApp, Path, io.StringIO],
) -> None:
    app, seen, _ = colors
    assert "COLOR" not in os.environ and os.getenv("SHADE") is None  # nothing leaks out
    for path in ("/red", "/blue", "/plain") * 5:
        assert post(app.url, path, b"{}")[0] == 202
    wait_for(lambda: seen.exists() and len(seen.read_text().splitlines()) == 15, what="15 calls")
    calls = {json.dumps(json.loads(line), sort_keys=True) for line in seen.read_text().splitlines()}
    assert {json.loads(c)["path"]: json.loads(c) for c in calls} == {
        "/red": {
            "path": "/red",
            "color": "red",
            "getenv": "red",
            "shade": None,
            "at_import": "red",
        },
        "/blue": {
            "path": "/blue",
            "color": "blue",
            "getenv": "blue",
            "shade": "dark",
            "at_import": "blue",
        },
        "/plain": {
            "path": "/plain",
            "color": None,
            "getenv": None,
            "shade": None,
            "at_import": None,
        },
    }
    assert len(calls) == 3  # every call of a pipeline saw the same


def test_a_failing_handlers_traceback_is_shown_and_logged_at_once(
    colors: tuple[DevApp, Path, io.StringIO],
) -> None:
    app, _, out = colors
    assert post(app.url, "/plain", b'{"fail": true}')[0] == 202
    log = app.options.data_dir / LOG_NAME
    # Read while nami dev still runs: each line is written through, not held in a buffer.
    wait_for(lambda: '"outcome":"failed"' in log.read_text(), what="the log line on disk")
    for text in (out.getvalue(), log.read_text()):
        assert "plain: handler raised on webhook" in text
        assert "Traceback (most recent call last)" in text
        assert 'raise RuntimeError("asked to fail")' in text and "in raise_it" in text
        assert "nami_action/dev/consumers.py" not in text  # the wrapper's frame is left out


SNS = f"""
orders:
  verify:
    scheme: sns
    topics: [{TOPIC}]
  consumer:
    code: consumer
    handler: HANDLER
"""


def test_dev_refuses_an_sns_message_of_another_topic_as_the_runtime_does(
    make_project: Callable[..., Project],
    start_app: Callable[..., DevApp],
    private_key: rsa.RSAPrivateKey,  # noqa: F811  (the imported fixture)
    cert_server: CertServer,  # noqa: F811
) -> None:
    """`nami dev` checks an `sns` pipeline without a dev secret (there is none to give) and
    with its `topics`: before, it warned "signatures are NOT checked" and handled anything."""
    project = make_project(SNS)
    app = start_app(project)
    forged = signed(private_key, notification(cert_server, OTHER_TOPIC), "2")
    assert post(app.url, "/orders", json.dumps(forged))[0] == 202
    wait_for(lambda: len(app.store.dead_letters("orders")) == 1, what="the other topic's kept")
    (kept,) = app.store.dead_letters("orders")
    assert (kept.outcome, kept.reason) == ("rejected", "TopicArn is not in verify.topics")
    assert project.calls() == []
    # The settings nami dev built are the runtime's: with SNS's host replaced by a certificate
    # served on 127.0.0.1 (the one seam, as in tests/runtime/test_sns.py), the allowed topic's
    # signed message verifies and the other topic's does not.
    warnings: list[str] = []
    pipeline = load_config(project.config).pipelines["orders"]
    built = verify_settings(pipeline, DevSecrets(None), warnings)
    assert built is not None and built.topics == (TOPIC,) and warnings == []
    settings = replace(built, certificates=store_for(cert_server))
    for topic, accepted in ((TOPIC, True), (OTHER_TOPIC, False)):
        body = json.dumps(signed(private_key, notification(cert_server, topic), "2")).encode()
        assert verify(settings, Headers({}), body, NOW).ok is accepted
