"""nami send over real HTTP on 127.0.0.1: signed as the pipeline's scheme, accepted by the
runtime's verify(); the secret from --secret, NAMI_SEND_SECRET, SSM or Secrets Manager."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.aws.session import Aws
from nami_action.cli.send import send
from nami_action.config import load_config
from nami_action.operate.send import verify_settings
from nami_action.runtime.verify import verify
from nami_action.runtime.webhook import Headers

from .support import Recorder

BODY = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'


def send_args(config_path: Path, body: Path, pipeline: str, url: str, *extra: str) -> list[str]:
    return [pipeline, "--body", str(body), "--url", url, "--config", str(config_path), *extra]


def accepted(config_path: Path, pipeline: str, secret: str, recorder: Recorder) -> bool:
    request = recorder.requests[-1]
    settings = verify_settings(load_config(config_path).pipelines[pipeline], secret)
    return verify(settings, Headers(request.headers), request.body, time.time()).ok


@pytest.fixture
def body(tmp_path: Path) -> Path:
    path = tmp_path / "ping.json"
    path.write_bytes(BODY)
    return path


def test_signed_send_reaches_the_server_and_verifies(
    config_path: Path, body: Path, recorder: Recorder
) -> None:
    url = f"{recorder.url}/github"
    args = send_args(config_path, body, "github", url, "--sign", "--secret", "s3cr3t")
    result = CliRunner().invoke(send, [*args, "--header", "X-GitHub-Event: ping"])

    assert result.exit_code == 0, result.output
    assert result.stdout == 'HTTP 202 Accepted\n{"ok": true}\n'
    assert "signed with github: X-Hub-Signature-256" in result.stderr
    request = recorder.requests[-1]
    assert (request.path, request.body) == ("/github", BODY)
    assert request.headers["X-GitHub-Event"] == "ping"
    assert request.headers["Content-Type"] == "application/json"
    assert accepted(config_path, "github", "s3cr3t", recorder)
    assert not accepted(config_path, "github", "another", recorder)


def test_secret_from_the_environment(
    config_path: Path, body: Path, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAMI_SEND_SECRET", "whsec_from_env")
    result = CliRunner().invoke(
        send, send_args(config_path, body, "billing", recorder.url, "--sign")
    )
    assert result.exit_code == 0, result.output
    assert "Stripe-Signature" in recorder.requests[-1].headers
    assert accepted(config_path, "billing", "whsec_from_env", recorder)


def test_secret_resolved_from_its_reference_through_aws(
    aws: Aws, config_path: Path, body: Path, recorder: Recorder
) -> None:
    aws.client("ssm").put_parameter(
        Name="/shop/github-secret", Value="from-ssm", Type="SecureString"
    )
    aws.client("secretsmanager").create_secret(Name="shop/stripe", SecretString="from-sm")
    for pipeline, secret in (("github", "from-ssm"), ("billing", "from-sm")):
        result = CliRunner().invoke(
            send, send_args(config_path, body, pipeline, recorder.url, "--sign")
        )
        assert result.exit_code == 0, result.output
        assert accepted(config_path, pipeline, secret, recorder)
        assert secret not in result.output


def test_non_2xx_exits_1(config_path: Path, body: Path, recorder: Recorder) -> None:
    recorder.status, recorder.answer = 403, b'{"message": "Forbidden"}'
    result = CliRunner().invoke(send, send_args(config_path, body, "orders", recorder.url))
    assert result.exit_code == 1
    assert result.stdout == 'HTTP 403 Forbidden\n{"message": "Forbidden"}\n'


def test_a_secret_list_signs_with_the_current_secret(
    aws: Aws, config_path: Path, body: Path, recorder: Recorder
) -> None:
    rotating = config_path.read_text().replace(
        'secret: "ssm:/shop/github-secret"', 'secret: ["ssm:/shop/new", "ssm:/shop/github-secret"]'
    )
    config_path.write_text(rotating)
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/shop/new", Value="current", Type="SecureString")
    ssm.put_parameter(Name="/shop/github-secret", Value="previous", Type="SecureString")
    result = CliRunner().invoke(
        send, send_args(config_path, body, "github", recorder.url, "--sign")
    )
    assert result.exit_code == 0, result.output
    assert accepted(config_path, "github", "current", recorder)
    assert not accepted(config_path, "github", "previous", recorder)
