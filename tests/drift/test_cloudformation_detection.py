"""CloudFormation drift detection: moto does not implement DetectStackDrift, so the working
path is driven with botocore's Stubber (answers shaped as the API reference documents them);
the unavailable paths run against the moto server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from nami_action.aws import live
from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli import cli
from tests.deploy.support import FaultProxy, cfn_error
from tests.operate.support import deploy_pipelines, write_project

STACK = "shop-github"


def stubbed_aws() -> tuple[Aws, Stubber]:
    aws = Aws(AwsTarget(region="us-east-1", endpoint_url="http://127.0.0.1:9"))
    client = boto3.client(
        "cloudformation",
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
    )
    aws._clients["cloudformation"] = client  # the Aws object hands out this stubbed client
    return aws, Stubber(client)


def status(detection: str, reason: str = "") -> dict[str, Any]:
    answer = {
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-github/1",
        "StackDriftDetectionId": "d-1",
        "DetectionStatus": detection,
        "Timestamp": "2026-11-28T00:00:00Z",
    }
    return answer | ({"DetectionStatusReason": reason} if reason else {})


DRIFT = {
    "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-github/1",
    "LogicalResourceId": "Queue",
    "PhysicalResourceId": "https://sqs/1/shop-github",
    "ResourceType": "AWS::SQS::Queue",
    "StackResourceDriftStatus": "MODIFIED",
    "Timestamp": "2026-11-28T00:00:00Z",
    "PropertyDifferences": [
        {
            "PropertyPath": "/MessageRetentionPeriod",
            "ExpectedValue": "345600",
            "ActualValue": "86400",
            "DifferenceType": "NOT_EQUAL",
        }
    ],
}


def test_detection_waits_then_reads_the_modified_and_deleted_resources() -> None:
    aws, stub = stubbed_aws()
    stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "d-1"}, {"StackName": STACK})
    for state in ("DETECTION_IN_PROGRESS", "DETECTION_FAILED"):
        stub.add_response(
            "describe_stack_drift_detection_status",
            status(
                state, "Failed to detect drift on resource [ApiStage]" if "FAILED" in state else ""
            ),
            {"StackDriftDetectionId": "d-1"},
        )
    stub.add_response(
        "describe_stack_resource_drifts",
        {"StackResourceDrifts": [DRIFT]},
        {"StackName": STACK, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
    )
    with stub:
        detection = live.start_detection(aws, STACK)
        drifts, reason = live.detection_result(
            aws, STACK, detection, poll_seconds=0, timeout_seconds=5
        )
    stub.assert_no_pending_responses()
    assert drifts[0]["LogicalResourceId"] == "Queue"
    assert reason == "Failed to detect drift on resource [ApiStage]"


def test_denied_detection_is_unavailable_not_an_error() -> None:
    aws, stub = stubbed_aws()
    stub.add_client_error("detect_stack_drift", "AccessDenied", "not authorized", 403)
    with stub, pytest.raises(live.DetectionUnavailable, match="access denied"):
        live.start_detection(aws, STACK)


def test_the_emulator_has_no_detection(aws: Aws) -> None:
    with pytest.raises(live.DetectionUnavailable, match="does not implement"):
        live.start_detection(aws, STACK)


def test_denied_through_a_proxy(proxy_url: str) -> None:
    aws = Aws(AwsTarget(region="us-east-1", endpoint_url=proxy_url))
    with pytest.raises(live.DetectionUnavailable, match="access denied"):
        live.start_detection(aws, STACK)


@pytest.fixture
def proxy_url(emulator: str) -> Any:
    proxy = FaultProxy(emulator)
    proxy.fail("DetectStackDrift", 403, cfn_error("AccessDenied", "not authorized"))
    yield proxy.url
    proxy.close()


def cfn_answer(operation: str, result: str) -> str:
    return (
        f'<{operation}Response xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
        f"<{operation}Result>{result}</{operation}Result>"
        f"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></{operation}Response>"
    )


def test_cloudformation_findings_are_merged_into_the_report(emulator: str, tmp_path: Path) -> None:
    """Everything runs on moto except the three drift-detection calls, which a proxy answers
    as AWS documents them: a partial (DETECTION_FAILED) result with one property the direct
    reads also found and one they do not cover."""
    aws = Aws(AwsTarget(region="us-east-1", endpoint_url=emulator))
    config = write_project(tmp_path)
    deploy_pipelines(aws, config, ("github",))
    resources = {
        s["LogicalResourceId"]: s["PhysicalResourceId"]
        for s in aws.client("cloudformation").list_stack_resources(StackName=STACK)[
            "StackResourceSummaries"
        ]
    }
    aws.client("sqs").set_queue_attributes(
        QueueUrl=resources["Queue"], Attributes={"MessageRetentionPeriod": "86400"}
    )
    stack_id = aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackId"]
    proxy = FaultProxy(emulator)
    proxy.fail(
        "DetectStackDrift",
        200,
        cfn_answer("DetectStackDrift", "<StackDriftDetectionId>d-1</StackDriftDetectionId>"),
    )
    proxy.fail(
        "DescribeStackDriftDetectionStatus",
        200,
        cfn_answer(
            "DescribeStackDriftDetectionStatus",
            f"<StackId>{stack_id}</StackId><StackDriftDetectionId>d-1</StackDriftDetectionId>"
            "<StackDriftStatus>DRIFTED</StackDriftStatus><DetectionStatus>DETECTION_FAILED"
            "</DetectionStatus><DetectionStatusReason>Failed to detect drift on resources "
            "[ApiStage]</DetectionStatusReason><Timestamp>2026-11-28T00:00:00Z</Timestamp>",
        ),
    )
    difference = (
        "<member><PropertyPath>{path}</PropertyPath><ExpectedValue>{want}</ExpectedValue>"
        "<ActualValue>{have}</ActualValue><DifferenceType>NOT_EQUAL</DifferenceType></member>"
    )
    drift = (
        f"<member><StackId>{stack_id}</StackId><LogicalResourceId>{{logical}}</LogicalResourceId>"
        "<PhysicalResourceId>p</PhysicalResourceId><ResourceType>{kind}</ResourceType>"
        "<PropertyDifferences>{differences}</PropertyDifferences>"
        "<StackResourceDriftStatus>MODIFIED</StackResourceDriftStatus>"
        "<Timestamp>2026-11-28T00:00:00Z</Timestamp></member>"
    )
    drifts = drift.format(
        logical="Queue",
        kind="AWS::SQS::Queue",
        differences=difference.format(path="/MessageRetentionPeriod", want="345600", have="86400"),
    ) + drift.format(
        logical="Consumer",
        kind="AWS::Lambda::Function",
        differences=difference.format(path="/Runtime", want="python3.12", have="python3.13"),
    )
    proxy.fail(
        "DescribeStackResourceDrifts",
        200,
        cfn_answer(
            "DescribeStackResourceDrifts", f"<StackResourceDrifts>{drifts}</StackResourceDrifts>"
        ),
    )
    try:
        result = CliRunner().invoke(
            cli,
            [
                "drift",
                str(config),
                "--pipelines",
                "github",
                "--format",
                "json",
                "--endpoint-url",
                proxy.url,
                "--poll-seconds",
                "0.01",
            ],
        )
    finally:
        proxy.close()
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    found = [
        (f["logical_id"], f["property"], f["source"], f["declared"], f["live"])
        for f in report["pipelines"][0]["findings"]
    ]
    assert found == [
        ("Consumer", "Runtime", "cloudformation", "python3.12", "python3.13"),
        ("Queue", "MessageRetentionPeriod", "live", "345600", "86400"),
    ]
    assert report["notes"] == [
        "CloudFormation drift detection incomplete on shop-github: Failed to detect drift on "
        "resources [ApiStage]"
    ]
