"""What the compiled consumer gives the runtime: its stack name, its DLQ (URL and the right to
send there, nothing more) and every signing secret reference (current and previous)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nami_action.cli import cli
from nami_action.compile import CodeLocation, compile_config
from nami_action.config import load_config
from nami_action.runtime.config import load_config as runtime_load_config

EVERYTHING = Path(__file__).parent / "everything" / "nami.yaml"
CODE = CodeLocation("artifacts-bucket", "nami/artifacts/" + "0" * 64 + ".zip")


@pytest.fixture(scope="module")
def templates() -> dict[str, dict[str, Any]]:
    config = load_config(EVERYTHING)
    code = dict.fromkeys(config.pipelines, CODE)
    return {name: json.loads(text) for name, text in compile_config(config, code).items()}


def consumer_env(template: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = template["Resources"]["Consumer"]["Properties"]["Environment"][
        "Variables"
    ]
    return variables


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policies = template["Resources"]["ConsumerRole"]["Properties"]["Policies"]
    return [s for policy in policies for s in policy["PolicyDocument"]["Statement"]]


def test_the_runtime_gets_its_stack_and_dead_letter_queue(
    templates: dict[str, dict[str, Any]],
) -> None:
    for stack, template in templates.items():
        variables = consumer_env(template)
        assert json.loads(variables["NAMI_CONFIG"])["stack"] == stack
        assert variables["NAMI_DEAD_LETTER_QUEUE_URL"] == {"Ref": "DeadLetterQueue"}
        sends = [s for s in statements(template) if "sqs:SendMessage" in s["Action"]]
        if "routes" in json.loads(variables["NAMI_CONFIG"]):
            sends = sends[:1]  # a router also sends to its routes (tests/routes)
        # Least privilege: send, and only to its own DLQ (never the queue it consumes).
        assert sends == [
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [{"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}],
            }
        ]


def test_a_secret_list_reaches_the_runtime_and_the_role(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["every-std"]
    variables = consumer_env(template)
    settings = json.loads(variables["NAMI_CONFIG"])
    assert settings["verify"]["secret"] == ["ssm:/every/std", "secretsmanager:every/std-old"]
    runtime = runtime_load_config({"NAMI_CONFIG": variables["NAMI_CONFIG"]})
    assert runtime.verify is not None
    assert runtime.verify.secret_refs() == ["ssm:/every/std", "secretsmanager:every/std-old"]
    readable = json.dumps(
        [
            s
            for s in statements(template)
            if {"ssm:GetParameter", "secretsmanager:GetSecretValue"} & set(s["Action"])
        ]
    )
    assert "parameter/every/std" in readable and "secret:every/std-old-??????" in readable


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ('["ssm:/a", "ssm:/b", "ssm:/c"]', "list one or two references"),
        ("[]", "list one or two references"),
        ('["ssm:/a", "hunter2"]', "never the secret itself"),
    ],
)
def test_a_bad_secret_list_is_one_clear_error(tmp_path: Path, secret: str, message: str) -> None:
    (tmp_path / "src").mkdir()
    config = tmp_path / "nami.yaml"
    config.write_text(
        "version: 1\nproject: acme\npipelines:\n  std:\n"
        f"    verify: {{scheme: standard-webhooks, secret: {secret}}}\n"
        "    consumer: {code: src}\n"
    )
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{config}:5:" in result.output and message in result.output, result.output
