"""The pure half of drift: declared values from a compiled template, the comparison, the
masking of secret-looking values, CloudFormation's findings merged in, and the renderers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nami_action.compile import CodeLocation, compile_config
from nami_action.config import load_config
from nami_action.drift.compare import cloudformation_findings, compare, merge
from nami_action.drift.declared import (
    ALARM,
    STAGE,
    Declared,
    Pseudo,
    Resolver,
    Unresolved,
    account_of,
    declared_resources,
)
from nami_action.drift.model import DriftReport, Finding, PipelineDrift
from nami_action.drift.render import MARKER, drift_markdown, drift_text

EXAMPLE = Path(__file__).parents[2] / "examples" / "nami.yaml"
PSEUDO = Pseudo("eu-west-1", "123456789012", "acme-webhooks-stripe")
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/acme-webhooks-stripe"
DLQ_URL = QUEUE_URL + "-dlq"


def stripe_template() -> dict[str, Any]:
    config = load_config(EXAMPLE)
    code = CodeLocation("bucket", "nami/artifacts/" + "0" * 64 + ".zip")
    compiled = compile_config(config, dict.fromkeys(config.pipelines, code))
    return dict(json.loads(compiled["acme-webhooks-stripe"]))


def physical_ids(template: dict[str, Any]) -> dict[str, str]:
    ids = {logical: f"{logical}-physical" for logical in template["Resources"]}
    return ids | {
        "Queue": QUEUE_URL,
        "DeadLetterQueue": DLQ_URL,
        "Api": "a1b2c3",
        "ApiStage": "live",
    }


@pytest.fixture(scope="module")
def declared() -> dict[str, Declared]:
    template = stripe_template()
    return {d.logical_id: d for d in declared_resources(template, physical_ids(template), PSEUDO)}


def test_declared_values_of_the_stripe_pipeline(declared: dict[str, Declared]) -> None:
    queue = declared["Queue"].properties
    assert queue["MessageRetentionPeriod"] == 345600
    assert queue["RedrivePolicy.maxReceiveCount"] == 8
    assert queue["RedrivePolicy.deadLetterTargetArn"] == (
        "arn:aws:sqs:eu-west-1:123456789012:acme-webhooks-stripe-dlq"
    )
    assert queue["DelaySeconds"] == 0  # AWS's default for a property the template leaves out
    mapping = declared["ConsumerEventSource"].properties
    assert mapping["ScalingConfig.MaximumConcurrency"] == 20
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (50, 2)
    assert "Enabled" not in mapping  # nami pause's switch, not configuration
    function = declared["Consumer"].properties
    assert (function["MemorySize"], function["Timeout"]) == (256, 30)
    assert function["Environment.Variables.NAMI_DEAD_LETTER_QUEUE_URL"] == DLQ_URL
    stage = declared["ApiStage"]
    assert stage.rest_api_id == "a1b2c3"
    assert stage.properties == {
        "MethodSettings[*/*].ThrottlingBurstLimit": 400,
        "MethodSettings[*/*].ThrottlingRateLimit": 200.0,
    }
    assert declared["DeadLetterAlarm"].properties["Threshold"] == 1.0
    assert declared["DeadLetterAlarm"].raw["Dimensions"] == [
        {"Name": "QueueName", "Value": "acme-webhooks-stripe-dlq"}
    ]
    types = {d.resource_type for d in declared.values()}
    assert {STAGE, ALARM} <= types


def test_a_resource_the_stack_does_not_have_is_not_compared() -> None:
    template = stripe_template()
    ids = physical_ids(template)
    del ids["ApiStage"]  # what the emulator does: the stage is never created
    assert "ApiStage" not in {d.logical_id for d in declared_resources(template, ids, PSEUDO)}


def test_resolver_refs_getatts_and_subs() -> None:
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}, "Fn": {"Type": "X"}}}
    resolver = Resolver(template, {"Queue": QUEUE_URL, "Fn": "fn-1"}, PSEUDO)
    assert resolver.resolve({"Ref": "Fn"}) == "fn-1"
    assert resolver.resolve({"Fn::GetAtt": ["Queue", "QueueName"]}) == "acme-webhooks-stripe"
    assert resolver.resolve({"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:x"}) == (
        "arn:aws:sqs:eu-west-1:x"
    )
    with pytest.raises(Unresolved):
        resolver.resolve({"Fn::GetAtt": ["Fn", "Arn"]})
    with pytest.raises(Unresolved):
        resolver.resolve({"Fn::Join": ["", ["a"]]})
    assert Pseudo("cn-north-1", "1", "s").partition == "aws-cn"
    assert account_of("arn:aws:cloudformation:us-east-1:210987654321:stack/s/id") == "210987654321"


def test_equal_values_in_other_shapes_are_not_drift(declared: dict[str, Declared]) -> None:
    live = {k: str(v) for k, v in declared["Queue"].properties.items()}  # SQS answers strings
    assert compare(declared["Queue"], live) == []


def test_changed_and_missing_values(declared: dict[str, Declared]) -> None:
    queue = declared["Queue"]
    live: dict[str, Any] = {**queue.properties, "MessageRetentionPeriod": "86400"}
    del live["VisibilityTimeout"]  # a property the read did not return: never guessed
    (finding,) = compare(queue, live)
    assert finding.summary() == "Queue MessageRetentionPeriod 345600 -> 86400"
    (gone,) = compare(queue, None)
    assert (gone.kind, gone.summary()) == ("deleted", "Queue deleted")


def test_secret_looking_environment_values_are_never_shown(declared: dict[str, Declared]) -> None:
    function = declared["Consumer"]
    live = {
        **function.properties,
        "Environment.Variables.LEDGER_API_TOKEN": "plain",
        "Environment.Variables.WEBHOOK_URL": "ghp_" + "a1" * 20,
        "Environment.Variables.LEDGER_URL": "https://other.example",
        "Environment.Variables.NAMI_CONFIG": "{}",
    }
    found = {f.property: (f.declared, f.live) for f in compare(function, live)}
    assert found["Environment.Variables.LEDGER_API_TOKEN"] == ("(unset)", "(changed)")
    assert found["Environment.Variables.WEBHOOK_URL"] == ("(unset)", "(changed)")
    assert found["Environment.Variables.LEDGER_URL"] == (
        "https://ledger.internal.acme.example",
        "https://other.example",
    )
    declared_config = found["Environment.Variables.NAMI_CONFIG"][0]
    assert declared_config.startswith("(changed, ") and declared_config.endswith("characters)")
    assert "ghp_" not in json.dumps(found)


def test_cloudformation_findings_merge_without_duplicates() -> None:
    reported = cloudformation_findings(
        [
            {
                "LogicalResourceId": "Queue",
                "ResourceType": "AWS::SQS::Queue",
                "StackResourceDriftStatus": "MODIFIED",
                "PropertyDifferences": [
                    {
                        "PropertyPath": "/MessageRetentionPeriod",
                        "ExpectedValue": "345600",
                        "ActualValue": "86400",
                        "DifferenceType": "NOT_EQUAL",
                    },
                    {
                        "PropertyPath": "/Tags/0/Value",
                        "ExpectedValue": "a",
                        "ActualValue": "b",
                        "DifferenceType": "NOT_EQUAL",
                    },
                ],
            },
            {
                "LogicalResourceId": "Consumer",
                "ResourceType": "AWS::Lambda::Function",
                "StackResourceDriftStatus": "MODIFIED",
                "PropertyDifferences": [
                    {
                        "PropertyPath": "/Environment/Variables/DB_PASSWORD",
                        "ActualValue": "pw",
                        "DifferenceType": "ADD",
                    }
                ],
            },
            {
                "LogicalResourceId": "Api",
                "ResourceType": "AWS::ApiGateway::RestApi",
                "StackResourceDriftStatus": "DELETED",
            },
            {"LogicalResourceId": "Role", "StackResourceDriftStatus": "IN_SYNC"},
        ]
    )
    direct = [Finding("Queue", "AWS::SQS::Queue", "MessageRetentionPeriod", "345600", "86400")]
    merged = merge(direct, reported)
    assert [(f.logical_id, f.property, f.source) for f in merged] == [
        ("Api", "", "cloudformation"),
        ("Consumer", "Environment.Variables.DB_PASSWORD", "cloudformation"),
        ("Queue", "MessageRetentionPeriod", "live"),
        ("Queue", "Tags.0.Value", "cloudformation"),
    ]
    assert merged[1].live == "(changed)"


def report(*pipelines: PipelineDrift, notes: list[str] | None = None) -> DriftReport:
    return DriftReport("shop", "us-east-1", list(pipelines), notes or [])


def test_exit_codes_and_renderers() -> None:
    finding = Finding("Queue", "AWS::SQS::Queue", "MessageRetentionPeriod", "345600", "86400")
    clean = report(PipelineDrift("github", "shop-github", [], 4))
    drifted = report(PipelineDrift("github", "shop-github", [finding], 4), notes=["n | 1"])
    broken = report(PipelineDrift("github", "shop-github", error="access denied"))
    assert (clean.exit_code, drifted.exit_code, broken.exit_code) == (0, 2, 1)
    assert drift_text(clean) == "No drift in shop (us-east-1): 1 pipelines checked\n"
    text = drift_text(drifted)
    assert "  github    Queue     MessageRetentionPeriod  345600 -> 86400" in text
    markdown = drift_markdown(drifted)
    assert markdown.startswith(MARKER)
    assert "| `github` | `Queue` | `MessageRetentionPeriod` | 345600 -> 86400 |" in markdown
    assert "> n \\| 1" in markdown
    data = json.loads(drifted.to_json())
    assert data["drifted"] == ["github"] and data["exit_code"] == 2


def test_a_paused_mapping_reported_by_cloudformation_is_not_drift() -> None:
    mapping = "AWS::Lambda::EventSourceMapping"
    difference = {"ExpectedValue": "true", "ActualValue": "false", "DifferenceType": "NOT_EQUAL"}
    reported = cloudformation_findings(
        [
            {
                "LogicalResourceId": "ConsumerEventSource",
                "ResourceType": mapping,
                "StackResourceDriftStatus": "MODIFIED",
                "PropertyDifferences": [
                    {"PropertyPath": "/Enabled", **difference},
                    {"PropertyPath": "/BatchSize", **difference},
                ],
            }
        ]
    )
    assert [f.property for f in reported] == ["BatchSize"]
