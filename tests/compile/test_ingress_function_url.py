"""`ingress: function-url`: the ingest function, its public URL and permissions, least
privilege, its settings, and cfn-lint clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nami_action.compile import CodeLocation, compile_config
from nami_action.config import load_config
from tests.cfn_lint import assert_templates_lint_clean

CODE = CodeLocation("artifacts-bucket", "nami/artifacts/" + "0" * 64 + ".zip")
CONFIG = """\
version: 1
project: acme
region: eu-west-1
artifacts: {bucket: acme-artifacts}
defaults:
  ingress: function-url
pipelines:
  slack:
    verify: {scheme: slack, secret: [ssm:/acme/slack, secretsmanager:acme/slack-old]}
    consumer:
      code: consumer
      environment: {DB_PASSWORD: ssm:/acme/db}
    ingress_function: {memory: 512, reserved_concurrency: 50}
  orders:
    verify: {scheme: none}
    queue: {fifo: true, max_message_size: 256KiB}
    consumer: {code: consumer, batch_size: 10}
"""


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("url")
    (folder / "consumer").mkdir()
    (folder / "consumer" / "handler.py").write_text("def handle(webhook):\n    pass\n")
    (folder / "nami.yaml").write_text(CONFIG)
    config = load_config(folder / "nami.yaml")
    compiled = compile_config(config, dict.fromkeys(config.pipelines, CODE)).items()
    return {name.removeprefix("acme-"): json.loads(text) for name, text in compiled}


def test_function_url_templates_pass_cfn_lint(
    templates: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    assert_templates_lint_clean(templates, tmp_path)


def test_no_api_gateway_and_a_public_url_to_the_ingest_function(
    templates: dict[str, dict[str, Any]],
) -> None:
    resources = templates["slack"]["Resources"]
    types = {r["Type"] for r in resources.values()}
    assert not any(t.startswith("AWS::ApiGateway") for t in types)
    assert resources["IngestUrl"]["Properties"]["AuthType"] == "NONE"
    function = resources["IngestFunction"]["Properties"]
    assert function["Handler"] == "nami_runtime.ingest.handler"
    assert function["Code"] == resources["Consumer"]["Properties"]["Code"]
    assert (function["MemorySize"], function["ReservedConcurrentExecutions"]) == (512, 50)
    permissions = {
        r["Properties"]["Action"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission"
    }
    assert permissions["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert permissions["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    url = templates["slack"]["Outputs"]["EndpointUrl"]["Value"]["Fn::Sub"]
    assert url == "${IngestUrl.FunctionUrl}slack"


def test_the_ingest_role_sends_to_its_queue_and_reads_only_the_verify_secrets(
    templates: dict[str, dict[str, Any]],
) -> None:
    resources = templates["slack"]["Resources"]
    statements = resources["IngestRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in s["Action"]}
    assert "sqs:SendMessage" in actions
    assert not {"sqs:ReceiveMessage", "sqs:DeleteMessage"} & actions
    text = json.dumps(statements)
    assert "/acme/slack" in text and "acme/slack-old" in text
    assert "/acme/db" not in text  # the consumer's secrets stay the consumer's
    env = resources["IngestFunction"]["Properties"]["Environment"]["Variables"]
    config = json.loads(env["NAMI_CONFIG"])
    assert config["secrets"] == {} and config["verify"]["scheme"] == "slack"
    assert env["NAMI_QUEUE_URL"] == {"Ref": "Queue"}


def test_defaults_for_the_ingest_function_and_the_queue_size(
    templates: dict[str, dict[str, Any]],
) -> None:
    function = templates["orders"]["Resources"]["IngestFunction"]["Properties"]
    assert function["MemorySize"] == 128
    # Capped by default: the public URL invokes the function for forged requests too.
    assert function["ReservedConcurrentExecutions"] == 10
    assert function["Environment"]["Variables"]["NAMI_MAX_MESSAGE_SIZE"] == str(256 * 1024)


def test_the_cost_metadata_prices_the_configured_ingest_memory(
    templates: dict[str, dict[str, Any]],
) -> None:
    assert templates["slack"]["Metadata"]["Nami"]["cost"]["ingest_memory_mib"] == 512
    assert templates["orders"]["Metadata"]["Nami"]["cost"]["ingest_memory_mib"] == 128


def test_alarms_read_the_function_url_metrics(templates: dict[str, dict[str, Any]]) -> None:
    alarm = templates["slack"]["Resources"]["Ingress4xxAlarm"]["Properties"]
    metric = alarm["Metrics"][0]["MetricStat"]["Metric"]
    assert (metric["Namespace"], metric["MetricName"]) == ("AWS/Lambda", "Url4xxCount")
    assert metric["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "IngestFunction"}}]
    body = templates["slack"]["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    assert '"AWS/Lambda","UrlRequestCount","FunctionName","${IngestFunction}"' in body["Fn::Sub"][0]
