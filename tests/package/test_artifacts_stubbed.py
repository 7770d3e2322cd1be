"""deploy_bootstrap paths moto cannot reach, on canned CloudFormation answers.

moto 5.2 has no CREATE_FAILED / ROLLBACK_* states, never answers "No updates are to be
performed" to UpdateStack, and finishes every operation at once (no *_IN_PROGRESS to see), so
these paths are driven with botocore's Stubber on a real client, with responses shaped like
CloudFormation's (validated against the service model by the Stubber).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.stub import Stubber

from nami_action.aws.artifacts import deploy_bootstrap
from nami_action.aws.session import Aws, AwsError, AwsTarget

# ----
STACK = "nami-bootstrap"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def stack(status: str) -> dict[str, Any]:
    return {"Stacks": [{"StackName": STACK, "StackStatus": status, "CreationTime": T0}]}


def event(logical: str, rtype: str, status: str, reason: str | None = None) -> dict[str, Any]:
    e = {
        "StackId": "id",
        "EventId": f"{logical}-{status}",
        "StackName": STACK,
        "LogicalResourceId": logical,
        "ResourceType": rtype,
        "ResourceStatus": status,
        "Timestamp": T0,
    }
    if reason:
        e["ResourceStatusReason"] = reason
    return e


def resources(bucket: str) -> dict[str, Any]:
    return {
        "StackResourceSummaries": [
            {
                "LogicalResourceId": "ArtifactBucket",
                "PhysicalResourceId": bucket,
                "ResourceType": "AWS::S3::Bucket",
                "LastUpdatedTimestamp": T0,
                "ResourceStatus": "CREATE_COMPLETE",
            }
        ]
    }


@pytest.fixture
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> Aws:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return Aws(AwsTarget(region="us-east-1", endpoint_url="http://127.0.0.1:9"))


def test_failed_create_reports_resource_reasons(offline_aws: Aws) -> None:
    cfn = offline_aws.client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist"
        )
        stub.add_response("create_stack", {"StackId": "id"})
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))  # waiter: failure
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    event(STACK, "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE"),
                    event("ArtifactBucket", "AWS::S3::Bucket", "DELETE_COMPLETE"),
                    event(
                        "ArtifactBucketPolicy",
                        "AWS::S3::BucketPolicy",
                        "CREATE_FAILED",
                        "Resource creation cancelled",
                    ),
                    event(
                        "ArtifactBucket",
                        "AWS::S3::Bucket",
                        "CREATE_FAILED",
                        "API: s3:PutBucketVersioning Access Denied",
                    ),
                    event(
                        STACK, "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated"
                    ),
                    event("Old", "AWS::S3::Bucket", "CREATE_FAILED", "from an earlier run"),
                ]
            },
        )
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
        with pytest.raises(AwsError) as caught:
            deploy_bootstrap(offline_aws, STACK, "{}", poll_seconds=1)
    message = str(caught.value)
    assert message.startswith(f"creating stack {STACK} failed (ROLLBACK_COMPLETE): ")
    assert "ArtifactBucket (AWS::S3::Bucket): API: s3:PutBucketVersioning Access Denied" in message
    assert message.index("PutBucketVersioning") < message.index("cancelled")  # in time order
    assert "earlier run" not in message


def test_no_updates_is_success(offline_aws: Aws) -> None:
    cfn = offline_aws.client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
        stub.add_response("get_template", {"TemplateBody": '{"older": true}'})
        stub.add_client_error("update_stack", "ValidationError", "No updates are to be performed.")
        stub.add_response("list_stack_resources", resources("the-bucket"))
        assert deploy_bootstrap(offline_aws, STACK, "{}") == "the-bucket"


def test_unchanged_template_makes_no_update_call(offline_aws: Aws) -> None:
    cfn = offline_aws.client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
        stub.add_response("get_template", {"TemplateBody": "{}"})
        stub.add_response("list_stack_resources", resources("the-bucket"))
        assert deploy_bootstrap(offline_aws, STACK, "{}") == "the-bucket"
        stub.assert_no_pending_responses()


def test_rollback_complete_stack_is_replaced(offline_aws: Aws) -> None:
    cfn = offline_aws.client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
        stub.add_response("delete_stack", {})
        stub.add_response("describe_stacks", stack("DELETE_COMPLETE"))
        stub.add_response("create_stack", {"StackId": "id"})
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE"))
        stub.add_response("list_stack_resources", resources("new-bucket"))
        assert deploy_bootstrap(offline_aws, STACK, "{}", poll_seconds=1) == "new-bucket"
        stub.assert_no_pending_responses()


def test_busy_stack_is_refused(offline_aws: Aws) -> None:
    with Stubber(offline_aws.client("cloudformation")) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"))
        with pytest.raises(AwsError, match="busy \\(UPDATE_IN_PROGRESS\\)"):
            deploy_bootstrap(offline_aws, STACK, "{}")
