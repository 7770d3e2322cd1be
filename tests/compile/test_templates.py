"""The compiled templates: cfn-lint clean, deterministic, least privilege, and wired right."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nami_action.cli import cli
from nami_action.compile import CodeLocation, compile_config
from nami_action.config import Config, load_config
from nami_action.runtime.config import load_config as runtime_load_config
from tests.cfn_lint import assert_cfn_lint_clean

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CONFIGS = [ROOT / "examples" / "nami.yaml", HERE / "everything" / "nami.yaml"]
CODE = CodeLocation("artifacts-bucket", "nami/artifacts/" + "0" * 64 + ".zip")


def compiled(config: Config) -> dict[str, dict[str, Any]]:
    code = dict.fromkeys(config.pipelines, CODE)
    return {name: json.loads(text) for name, text in compile_config(config, code).items()}


@pytest.fixture(scope="module")
def all_templates() -> dict[str, dict[str, Any]]:
    templates: dict[str, dict[str, Any]] = {}
    for path in CONFIGS:
        templates.update(compiled(load_config(path)))
    return templates


def test_cfn_lint_reports_nothing(tmp_path: Path) -> None:
    """Zero errors, zero warnings, zero informational findings, over every template the CLI
    writes for the example and for the config that turns every option on."""
    files: list[str] = []
    for index, config in enumerate(CONFIGS):
        folder = tmp_path / str(index)
        shutil.copytree(config.parent, folder, ignore=shutil.ignore_patterns(".nami"))
        out = tmp_path / f"out{index}"
        result = CliRunner().invoke(cli, ["compile", str(folder / "nami.yaml"), "--out", str(out)])
        assert result.exit_code == 0, result.output
        files += sorted(str(p) for p in out.glob("*.template.json"))
    assert len(files) == 15
    assert_cfn_lint_clean(files)


def test_yaml_output_is_the_same_template(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    folder = tmp_path / "cfg"
    shutil.copytree(ROOT / "examples", folder, ignore=shutil.ignore_patterns(".nami"))
    for fmt in ("json", "yaml"):
        result = CliRunner().invoke(
            cli,
            ["compile", str(folder / "nami.yaml"), "--out", str(tmp_path / fmt), "--format", fmt],
        )
        assert result.exit_code == 0, result.output
    as_json = json.loads((tmp_path / "json" / "acme-webhooks-github.template.json").read_text())
    as_yaml = YAML(typ="safe").load(tmp_path / "yaml" / "acme-webhooks-github.template.yaml")
    assert as_yaml == as_json


def test_compiling_twice_is_byte_identical() -> None:
    config = load_config(CONFIGS[1])
    code = dict.fromkeys(config.pipelines, CODE)
    assert compile_config(config, code) == compile_config(load_config(CONFIGS[1]), code)


def test_changing_one_pipeline_changes_only_its_template(tmp_path: Path) -> None:
    text = CONFIGS[1].read_text()
    changed = tmp_path / "nami.yaml"
    changed.write_text(text.replace("alarms: {email: []}", "alarms: {email: [c@example.com]}"))
    shutil.copytree(CONFIGS[1].parent / "consumer", tmp_path / "consumer")
    before, after = compiled(load_config(CONFIGS[1])), compiled(load_config(changed))
    differing = sorted(name for name in before if before[name] != after[name])
    assert differing == ["every-slack"]


def policies(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for policy in props.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield logical_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_wildcard_actions_or_resources(all_templates: dict[str, dict[str, Any]]) -> None:
    # No exception is needed: every statement names its resources. (The one AWS-managed
    # policy with a `*` resource, for API Gateway's CloudWatch role, lives in the bootstrap
    # stack as AWS documents it; see compile/bootstrap.py.)
    count = 0
    for name, template in all_templates.items():
        for logical_id, statement in policies(template):
            count += 1
            for action in as_list(statement["Action"]):
                assert "*" not in action, (name, logical_id, action)
            for resource in as_list(statement["Resource"]):
                assert resource != "*", (name, logical_id)
                assert not (isinstance(resource, str) and resource.endswith(":*")), resource
    assert count >= 20


def test_queues_are_retained_encrypted_and_redriven(all_templates: dict[str, Any]) -> None:
    template = all_templates["every-gh"]
    queue, dlq = template["Resources"]["Queue"], template["Resources"]["DeadLetterQueue"]
    for resource in (queue, dlq):
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate"
        assert resource["UpdateReplacePolicy"] == "Retain"
        assert resource["Properties"]["SqsManagedSseEnabled"] is True
    props = queue["Properties"]
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": 10,
    }
    assert props["VisibilityTimeout"] == 900
    assert props["MessageRetentionPeriod"] == 3 * 86400
    assert props["MaximumMessageSize"] == 256 * 1024
    # The DLQ takes SQS's largest message whatever the queue's: a rejected near-limit webhook
    # moves there with its reason attributes on top.
    assert dlq["Properties"]["MaximumMessageSize"] == 1024 * 1024
    allow = dlq["Properties"]["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    assert "every-gh" in json.dumps(allow["sourceQueueArns"])
    fifo = all_templates["every-shop"]["Resources"]
    assert fifo["Queue"]["Properties"]["FifoQueue"] is True
    assert fifo["Queue"]["Properties"]["QueueName"] == "every-shop.fifo"
    assert fifo["DeadLetterQueue"]["Properties"]["QueueName"] == "every-shop-dlq.fifo"


def test_event_source_mapping_bounds_concurrency(all_templates: dict[str, Any]) -> None:
    esm = all_templates["every-gh"]["Resources"]["ConsumerEventSource"]["Properties"]
    assert esm["ScalingConfig"] == {"MaximumConcurrency": 1000}
    assert esm["BatchSize"] == 500
    assert esm["MaximumBatchingWindowInSeconds"] == 20
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    fifo = all_templates["every-shop"]["Resources"]["ConsumerEventSource"]["Properties"]
    assert "MaximumBatchingWindowInSeconds" not in fifo


def test_secrets_are_references_readable_by_the_runtime(all_templates: dict[str, Any]) -> None:
    function = all_templates["every-gh"]["Resources"]["Consumer"]["Properties"]
    variables = function["Environment"]["Variables"]
    assert set(variables) == {
        "PLAIN",
        "NAMI_CONFIG",
        "NAMI_DEDUPE_TABLE",
        "NAMI_DEAD_LETTER_QUEUE_URL",
    }
    env = {"NAMI_CONFIG": variables["NAMI_CONFIG"], "NAMI_DEDUPE_TABLE": "table"}
    settings = runtime_load_config(env)  # the runtime accepts exactly what we compile
    assert settings.secrets == {
        "API_TOKEN": "secretsmanager:every/api-token",
        "DB_PASSWORD": "ssm:/every/db/password",
    }
    assert settings.verify is not None and settings.verify.secret_ref == "ssm:/every/github"
    statements = [s for _, s in policies(all_templates["every-gh"])]
    readable = json.dumps([s for s in statements if "ssm:GetParameter" in s["Action"]])
    assert "parameter/every/github" in readable and "parameter/every/db/password" in readable
    secrets = json.dumps([s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]])
    assert "secret:every/api-token-??????" in secrets


def test_every_taggable_resource_is_tagged(all_templates: dict[str, Any]) -> None:
    resources = all_templates["every-gh"]["Resources"]
    tagged = [r for r in resources.values() if "Tags" in r.get("Properties", {})]
    assert len(tagged) >= 9
    for resource in tagged:
        tags = resource["Properties"]["Tags"]
        pairs = {t["Key"]: t["Value"] for t in tags} if isinstance(tags, list) else dict(tags)
        assert pairs["nami:project"] == "every"
        assert pairs["nami:pipeline"] == "gh"
        assert "nami:version" in pairs
        assert pairs["team"] == "platform" and pairs["owner"] == "ci"


def test_ingress_goes_straight_to_sqs(all_templates: dict[str, Any]) -> None:
    resources = all_templates["every-gh"]["Resources"]
    method = resources["ApiPostMethod"]["Properties"]
    assert method["Integration"]["Type"] == "AWS"
    assert "sqs:path" in json.dumps(method["Integration"]["Uri"])
    statuses = {r["StatusCode"] for r in method["Integration"]["IntegrationResponses"]}
    assert {"202", "500", "503"} <= statuses
    parts = [
        r["Properties"]["PathPart"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGateway::Resource"
    ]
    assert sorted(parts) == ["github", "hooks", "v1"]
    stage = resources["ApiStage"]["Properties"]
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == 50.5
    assert stage["MethodSettings"][0]["ThrottlingBurstLimit"] == 100
    assert "AccessLogSetting" in stage
    outputs = all_templates["every-gh"]["Outputs"]
    assert set(outputs) == {
        "EndpointUrl",
        "QueueUrl",
        "QueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "FunctionName",
    }


def test_alarms_reach_the_topic(all_templates: dict[str, Any]) -> None:
    resources = all_templates["every-gh"]["Resources"]
    emails = sorted(
        r["Properties"]["Endpoint"]
        for r in resources.values()
        if r["Type"] == "AWS::SNS::Subscription" and r["Properties"]["Protocol"] == "email"
    )
    assert emails == ["a@example.com", "b@example.com"]
    backlog = resources["BacklogAgeAlarm"]["Properties"]
    assert backlog["Threshold"] == 3600.0
    assert resources["DeadLetterAlarm"]["Properties"]["Threshold"] == 5.0


def test_changed_integration_gets_a_new_deployment() -> None:
    config = load_config(CONFIGS[0])
    first = compiled(config)["acme-webhooks-orders"]["Resources"]
    deployments = [k for k in first if k.startswith("ApiRelease")]
    assert len(deployments) == 1
    from dataclasses import replace

    pipeline = config.pipelines["orders"]
    moved = replace(config, pipelines={"orders": replace(pipeline, path="/elsewhere")})
    second = compiled(moved)["acme-webhooks-orders"]["Resources"]
    assert [k for k in second if k.startswith("ApiRelease")] != deployments


def test_rejected_alarm_sums_rejected_and_malformed(all_templates: dict[str, Any]) -> None:
    """The contract with the runtime's EMF line: namespace Nami, dimension Pipeline = stack."""
    for stack_name, template in all_templates.items():
        alarm = template["Resources"]["RejectedAlarm"]["Properties"]
        queries = {q["Id"]: q for q in alarm["Metrics"]}
        for query_id, metric in (("rejected", "Rejected"), ("malformed", "Malformed")):
            stat = queries[query_id]["MetricStat"]
            assert stat["Metric"] == {
                "Namespace": "Nami",
                "MetricName": metric,
                "Dimensions": [{"Name": "Pipeline", "Value": stack_name}],
            }
            assert (stat["Period"], stat["Stat"], queries[query_id]["ReturnData"]) == (
                60,
                "Sum",
                False,
            )
        returned = [q for q in alarm["Metrics"] if q.get("ReturnData", True)]
        assert [q["Expression"] for q in returned] == ["FILL(rejected, 0) + FILL(malformed, 0)"]
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"][0] == {"Ref": "AlarmTopic"}
    every = all_templates["every-gh"]["Resources"]["RejectedAlarm"]["Properties"]
    example = all_templates["acme-webhooks-github"]["Resources"]["RejectedAlarm"]["Properties"]
    assert (every["Threshold"], example["Threshold"]) == (3.0, 1.0)


def test_access_log_format_is_json_whatever_the_error(all_templates: dict[str, Any]) -> None:
    """API Gateway substitutes $context.error.messageString already quoted and escaped."""
    stage = all_templates["every-gh"]["Resources"]["ApiStage"]["Properties"]
    fmt = stage["AccessLogSetting"]["Format"]
    assert '"error": $context.error.messageString' in fmt
    for message in ("Internal server error", 'say "hi"\\n', ""):
        line = fmt.replace("$context.error.messageString", json.dumps(message))
        assert json.loads(line)["error"] == message
    fields = json.loads(fmt.replace("$context.error.messageString", "null"))
    assert fields["extendedRequestId"] == "$context.extendedRequestId"
    assert "$context.requestId" not in fmt  # the client sets it, quotes and all


def test_fifo_pipeline_groups_and_dedupes_by_api_gateway_ids(
    all_templates: dict[str, Any],
) -> None:
    resources = all_templates["every-shop"]["Resources"]
    integration = resources["ApiPostMethod"]["Properties"]["Integration"]
    templates = set(integration["RequestTemplates"].values())
    assert len(templates) == 1
    (template,) = templates
    assert "MessageDeduplicationId=$util.urlEncode($context.extendedRequestId)" in template
    assert "$util.parseJson($text)" in template and ".get('id')" in template
    assert "context.requestId" not in template
    statuses = {
        r["StatusCode"] for r in resources["ApiPostMethod"]["Properties"]["MethodResponses"]
    }
    assert statuses == {"202", "413", "500", "503"}


def test_fifo_throttle_stays_under_the_sqs_fifo_send_limit(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "nami.yaml").write_text(
        "version: 1\nproject: p\npipelines:\n"
        "  f:\n    verify: {scheme: none}\n    queue: {fifo: true}\n    consumer: {code: src}\n"
        "  s:\n    verify: {scheme: none}\n    consumer: {code: src}\n"
    )
    templates = compiled(load_config(tmp_path / "nami.yaml"))
    settings = {
        name: templates[name]["Resources"]["ApiStage"]["Properties"]["MethodSettings"][0]
        for name in ("p-f", "p-s")
    }
    fifo = settings["p-f"]
    assert fifo["ThrottlingRateLimit"] + fifo["ThrottlingBurstLimit"] <= 300
    assert (settings["p-s"]["ThrottlingRateLimit"], settings["p-s"]["ThrottlingBurstLimit"]) == (
        500.0,
        1000,
    )


def test_default_visibility_is_six_timeouts_plus_the_batching_window(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "nami.yaml").write_text(
        "version: 1\nproject: p\npipelines:\n"
        "  w:\n    verify: {scheme: none}\n"
        "    consumer: {code: src, timeout: 1m, batching_window: 30s, batch_size: 100}\n"
        "  n:\n    verify: {scheme: none}\n    consumer: {code: src, timeout: 15m}\n"
    )
    templates = compiled(load_config(tmp_path / "nami.yaml"))
    visibility = {
        name: templates[name]["Resources"]["Queue"]["Properties"]["VisibilityTimeout"]
        for name in ("p-w", "p-n")
    }
    assert visibility == {"p-w": 6 * 60 + 30, "p-n": 6 * 15 * 60}
