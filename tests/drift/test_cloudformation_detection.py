"""CloudFormation drift detection: moto does not implement DetectStackDrift, so the working
path is driven with botocore's Stubber (answers shaped as the API reference documents them);
the unavailable paths run against the moto server."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from nami_action.aws import live
from nami_action.aws.session import Aws, AwsTarget
from tests.deploy.support import FaultProxy, cfn_error

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
