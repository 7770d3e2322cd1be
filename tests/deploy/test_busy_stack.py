"""A stack busy with another operation is waited for, with its events streamed, never raced.

botocore's Stubber stands in for CloudFormation here: the emulator finishes every operation
synchronously, so it never shows a stack in *_IN_PROGRESS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from nami_action.apply import Deployer, DeployOptions
from nami_action.aws.session import Aws, AwsTarget
from nami_action.aws.stacks import StackEvent

# Events an hour ahead: the wait only shows events newer than its start, whenever the test runs.
NOW = datetime.now(UTC) + timedelta(hours=1)


def stack(status: str) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "shop-github",
                "StackId": "id",
                "StackStatus": status,
                "CreationTime": NOW - timedelta(days=1),
            }
        ]
    }


def events(*rows: tuple[str, str, int]) -> dict[str, Any]:
    """Newest first, as CloudFormation pages them; the int is seconds after NOW."""
    return {
        "StackEvents": [
            {
                "StackId": "id",
                "EventId": f"{lid}-{status}",
                "StackName": "shop-github",
                "LogicalResourceId": lid,
                "ResourceType": "AWS::SQS::Queue",
                "ResourceStatus": status,
                "Timestamp": NOW + timedelta(seconds=offset),
            }
            for lid, status, offset in rows
        ]
    }


@pytest.fixture
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> Aws:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return Aws(AwsTarget(region="us-east-1", endpoint_url="http://127.0.0.1:9"))


def test_busy_stack_is_waited_for_with_events(offline_aws: Aws) -> None:
    seen: list[StackEvent] = []
    # Waiting needs no plan: the Deployer's run is not used by _settle_busy_stack.
    deployer = Deployer(offline_aws, None, DeployOptions(poll_seconds=0.01), seen.append)  # type: ignore[arg-type]
    with Stubber(offline_aws.client("cloudformation")) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"))
        # The newest event before waiting starts the window (CloudFormation's clock, not ours).
        stub.add_response("describe_stack_events", events(("Queue", "CREATE_COMPLETE", 0)))
        stub.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"))
        stub.add_response("describe_stack_events", events(("Queue", "UPDATE_IN_PROGRESS", 5)))
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
        # The finishing event carries the same timestamp as the one already shown.
        stub.add_response(
            "describe_stack_events",
            events(("Queue", "UPDATE_COMPLETE", 5), ("Queue", "UPDATE_IN_PROGRESS", 5)),
        )
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"))  # the stack as it is now
        deployer._settle_busy_stack("shop-github")
        stub.assert_no_pending_responses()
    assert [(e.logical_id, e.status) for e in seen] == [
        ("Queue", "UPDATE_IN_PROGRESS"),
        ("Queue", "UPDATE_COMPLETE"),
    ]


def test_settled_stack_is_not_waited_for(offline_aws: Aws) -> None:
    deployer = Deployer(offline_aws, None, DeployOptions(), lambda e: None)  # type: ignore[arg-type]
    with Stubber(offline_aws.client("cloudformation")) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
        deployer._settle_busy_stack("shop-github")
        stub.assert_no_pending_responses()
