"""nami send --sign into `nami dev` (in this process, on 127.0.0.1): the local pipeline runs
the real runtime, which verifies the signature before the handler sees the webhook."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.cli.send import send
from nami_action.config import load_config
from nami_action.dev.app import DevApp, DevOptions

CONFIG = """version: 1
project: devsend
pipelines:
  github:
    verify: {scheme: github, secret: "ssm:/devsend/github"}
    consumer: {code: consumer}
  slack:
    verify: {scheme: slack, secret: "ssm:/devsend/slack"}
    consumer: {code: consumer}
"""
HANDLER = """import json

def handle(webhook):
    with open({seen!r}, "a") as out:
        out.write(json.dumps({{"path": webhook.path, "body": webhook.text()}}) + "\\n")
"""


def test_signed_sends_pass_the_runtime_of_nami_dev(tmp_path: Path) -> None:
    seen = tmp_path / "seen.jsonl"
    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "handler.py").write_text(HANDLER.format(seen=str(seen)))
    config_path = tmp_path / "nami.yaml"
    config_path.write_text(CONFIG)
    secrets = {"github": "gh-secret", "slack": "slack-secret"}
    app = DevApp(
        load_config(config_path),
        DevOptions(port=0, data_dir=tmp_path / "data", secrets=secrets, env={}),
        out=open(os.devnull, "w"),  # noqa: SIM115 - closed with the process
    )
    app.start()
    try:
        for pipeline, secret in secrets.items():
            body = tmp_path / f"{pipeline}.json"
            body.write_text(json.dumps({"hello": pipeline}))
            args = [pipeline, "--body", str(body), "--sign", "--secret", secret]
            args += ["--url", f"{app.url}/{pipeline}", "--config", str(config_path)]
            result = CliRunner().invoke(send, args)
            assert result.exit_code == 0, result.output
            assert result.stdout.startswith("HTTP 202")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(_lines(seen)) < 2:
            time.sleep(0.05)
    finally:
        app.stop()
    handled = sorted(_lines(seen), key=lambda item: item["path"])
    assert handled == [
        {"path": "/github", "body": '{"hello": "github"}'},
        {"path": "/slack", "body": '{"hello": "slack"}'},
    ]


def _lines(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_base_url_nami_dev_prints_and_its_secrets_are_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nami send --url <what nami dev printed first> --sign`, with the secrets in
    NAMI_DEV_SECRET_<PIPELINE> as `nami dev` reads them: no --secret, no AWS credentials."""
    seen = tmp_path / "seen.jsonl"
    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "handler.py").write_text(HANDLER.format(seen=str(seen)))
    config_path = tmp_path / "nami.yaml"
    config_path.write_text(CONFIG)
    env = {"NAMI_DEV_SECRET_GITHUB": "gh-secret", "NAMI_DEV_SECRET_SLACK": "slack-secret"}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "NAMI_SEND_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = DevApp(
        load_config(config_path),
        DevOptions(port=0, data_dir=tmp_path / "data", env=env),
        out=open(os.devnull, "w"),  # noqa: SIM115 - closed with the process
    )
    app.start()
    try:
        for pipeline in ("github", "slack"):
            body = tmp_path / f"{pipeline}.json"
            body.write_text(json.dumps({"hello": pipeline}))
            for base in (app.url, app.url + "/"):
                args = [pipeline, "--body", str(body), "--sign", "--url", base]
                result = CliRunner().invoke(send, [*args, "--config", str(config_path)])
                assert result.exit_code == 0, result.output
                assert result.stdout.startswith("HTTP 202")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(_lines(seen)) < 4:
            time.sleep(0.05)
    finally:
        app.stop()
    assert sorted(item["path"] for item in _lines(seen)) == ["/github"] * 2 + ["/slack"] * 2
