"""`forward:` from nami.yaml to the template: validation at the place of the mistake, a
cfn-lint clean template with least privilege, the plan's bounds, drain time and cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nami_action.compile import CodeLocation, compile_config
from nami_action.config import load_config
from nami_action.config.forward import drain_seconds, forward_summary, function_timeout
from nami_action.cost.model import Assumptions, estimate, inputs_from_pipeline
from nami_action.cost.prices import prices_for
from nami_action.errors import ConfigError
from nami_action.plan.model import PipelinePlan, Plan
from nami_action.render.markdown import plan_markdown
from nami_action.render.text import plan_text

CODE = CodeLocation("artifacts-bucket", "nami/artifacts/" + "0" * 64 + ".zip")
CONFIG = """\
version: 1
project: acme
region: us-east-1
pipelines:
  stripe:
    verify: {scheme: stripe, secret: ssm:/acme/stripe}
    forward:
      url: https://api.acme.com/webhooks/stripe
      rate: 300/m
      concurrency: 10
      timeout: 20s
      headers: {X-Source: nami, Authorization: "secretsmanager:acme/api-token"}
  crm:
    verify: {scheme: none}
    forward: {url: "ssm:/acme/crm-url"}
    consumer: {batch_size: 1, memory: 128}
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "nami.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def templates(config_path: Path) -> dict[str, dict[str, Any]]:
    config = load_config(config_path)
    compiled = compile_config(config, dict.fromkeys(config.pipelines, CODE), use_cache=False)
    return {name.removeprefix("acme-"): json.loads(text) for name, text in compiled.items()}


def of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [r for r in template["Resources"].values() if r["Type"] == kind]
    return dict(found["Properties"])


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [f"{p.line}:{p.column} {p.message}" for p in caught.value.problems]


def test_rates_are_read_in_any_unit(config_path: Path) -> None:
    config = load_config(config_path)
    stripe = config.pipelines["stripe"].spec
    assert stripe.forward is not None and stripe.forward.rate == 5.0  # 300/m
    assert config.pipelines["crm"].spec.forward.rate is None  # type: ignore[union-attr]


def test_mistakes_are_reported_where_they_are_written(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
version: 1
project: acme
pipelines:
  a:
    verify: {scheme: none}
    forward: {url: "http://api.acme.com/x", rate: 5/sec, concurrency: 1, headers: {Host: x}}
  b:
    verify: {scheme: none}
    consumer: {code: .}
    forward: {url: "https://a.example/x"}
  c:
    verify: {scheme: none}
    forward: {url: "https://a.example/x", rate: 1/h, timeout: 1m}
  d:
    verify: {scheme: none}
""",
    )
    text = "\n".join(found)
    assert "6:20 `pipelines.a.forward.url`: must be an `https://` URL" in text
    assert "6:51 `pipelines.a.forward.rate`: must be a rate like `50/s`" in text
    assert "6:71 `pipelines.a.forward.concurrency`: must be at least 2" in text
    assert "6:84 `Host`: is set by nami on every delivery" in text
    assert (
        "9:22 pipeline `b`: a pipeline either calls a handler (consumer.code) or forwards" in text
    )
    assert "13:63 pipeline `c`: a batch of 10 (consumer.batch_size) requests" in text
    assert "14:3 pipeline `d`: set consumer.code (the folder with your handler), or `forward`" in (
        text
    )
    assert len(found) == 7


def test_templates_pass_cfn_lint(templates: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    files = []
    for name, body in templates.items():
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(body))
        files.append(str(path))
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--include-checks", "I", "--", *files],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout == ""


def test_the_delivery_function_is_bounded_and_reads_only_its_secrets(
    templates: dict[str, dict[str, Any]], config_path: Path
) -> None:
    template = templates["stripe"]
    spec = load_config(config_path).pipelines["stripe"].spec
    mapping = of_type(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 10}  # forward.concurrency
    function = of_type(template, "AWS::Lambda::Function")
    # 10 requests of up to 20 s, each slot paced 10 / 5 = 2 s apart, plus the margin.
    assert function["Timeout"] == function_timeout(spec) == 10 * (20 + 2) + 10
    variables = function["Environment"]["Variables"]
    assert variables["NAMI_FORWARD_SECRET"] == {"Ref": "ForwardSecret"}
    settings = json.loads(variables["NAMI_CONFIG"])["forward"]
    assert settings["headers"]["Authorization"] == "secretsmanager:acme/api-token"  # a reference
    secret = of_type(template, "AWS::SecretsManager::Secret")
    assert "SecretString" not in secret  # generated by Secrets Manager, never in the template
    assert secret["Name"] == "nami/acme-stripe/forward-signing-key"  # the deploy role's scope
    role = template["Resources"]["ConsumerRole"]["Properties"]
    reads = [
        s["Resource"]
        for s in role["Policies"][0]["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in s["Action"]
    ]
    assert reads == [
        [
            {
                "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:"
                "${AWS::AccountId}:secret:acme/api-token-??????"
            }
        ],
        [{"Ref": "ForwardSecret"}],
    ]
    alarm = template["Resources"]["RefusedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("Nami", "Refused")
    assert "ForwardSecretArn" in template["Outputs"]
    crm_role = templates["crm"]["Resources"]["ConsumerRole"]["Properties"]
    statements = crm_role["Policies"][0]["PolicyDocument"]["Statement"]
    assert {
        "Effect": "Allow",
        "Action": ["ssm:GetParameter"],
        "Resource": [
            {
                "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:"
                "parameter/acme/crm-url"
            }
        ],
    } in statements


def test_the_plan_states_the_bounds_the_drain_time_and_the_cost(config_path: Path) -> None:
    config = load_config(config_path)
    stripe, crm = config.pipelines["stripe"].spec, config.pipelines["crm"].spec
    assert drain_seconds(stripe, 100_000, 0.1) == 20_000  # the rate bound: 5/s
    assert drain_seconds(crm, 100_000, 0.1) == 1_000  # 10 at a time, 100 ms each
    summary = forward_summary(stripe)
    assert summary == (
        "at most 5/s, 10 in flight; a backlog of 100,000 drains in about 5 h 33 m at 5/s"
    )
    plan = Plan(
        "acme",
        "nami.yaml",
        "us-east-1",
        [PipelinePlan("stripe", "acme-stripe", "create", forward=summary)],
    )
    assert f"    forward: {summary}" in plan_text(plan)
    assert f"forward: {summary}" in plan_markdown(plan)

    prices = prices_for("us-east-1")
    assert prices is not None
    paced = estimate(inputs_from_pipeline(stripe), prices, Assumptions(duration_ms=100))
    unpaced = estimate(inputs_from_pipeline(crm), prices, Assumptions(duration_ms=100))
    assert paced.fixed_parts["signing secret"] == 0.4
    # Each paced delivery holds its invocation 2 s (concurrency / rate), billed as Lambda
    # time: 1M x 2 s x 256 MiB; unpaced, 100 ms at 128 MiB but one invocation per webhook.
    assert paced.per_million_parts["consumer"] == pytest.approx(
        100_000
        * (prices["lambda_request"].each + 0.25 * 20 * prices["lambda_arm64_gb_second"].each)
    )
    assert unpaced.per_million_parts["consumer"] == pytest.approx(
        1_000_000
        * (prices["lambda_request"].each + 0.125 * 0.1 * prices["lambda_arm64_gb_second"].each)
    )


def test_credentials_in_forward_headers_must_be_references(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
version: 1
project: acme
pipelines:
  a:
    verify: {scheme: none}
    forward:
      url: https://api.acme.com/hooks
      headers:
        Authorization: Basic dXNlcjpwYXNz
        X-Api-Token: abc
        X-Source: nami
        X-Token-Ref: "secretsmanager:acme/token"
""",
    )
    assert found == [
        "9:24 `Authorization` looks like a secret but holds a literal value: store it in SSM "
        "or Secrets Manager and write `ssm:/path` or `secretsmanager:name`",
        "10:22 `X-Api-Token` looks like a secret but holds a literal value: store it in SSM "
        "or Secrets Manager and write `ssm:/path` or `secretsmanager:name`",
    ]


def test_a_forward_pipeline_has_no_code_to_configure(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
version: 1
project: acme
pipelines:
  a:
    verify: {scheme: none}
    forward: {url: "https://api.acme.com/hooks"}
    consumer: {mode: sqs, environment: {REGION_NAME: eu}}
""",
    )
    assert found == [
        "7:22 pipeline `a`: `forward` is done by the Nami runtime: use mode `webhook`",
        "7:40 pipeline `a`: a `forward` pipeline runs no code of yours to read it: put what "
        "the destination needs in forward.headers",
    ]
