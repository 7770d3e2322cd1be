"""CloudFormation reads shared by the planner, deploy and bootstrap."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions

from nami_action.aws.session import (
    Aws,
    AwsError,
    error_code,
    error_message,
    translate_errors,
)


def stack_missing(exc: botocore.exceptions.ClientError) -> bool:
    return error_code(exc) == "ValidationError" and "does not exist" in error_message(exc)


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    physical_id: str
    type: str  # AWS::SQS::Queue, ...


def list_resources(aws: Aws, stack_name: str) -> list[StackResource] | None:
    """A stack's resources that have a physical id; None if the stack does not exist.

    ListStackResources rather than DescribeStackResources: the emulator fails the latter on
    stacks holding resource types it does not model, and the former pages past 100 resources.
    """
    paginator = aws.client("cloudformation").get_paginator("list_stack_resources")
    found: list[StackResource] = []
    with translate_errors(f"listing the resources of stack {stack_name}"):
        try:
            for page in paginator.paginate(StackName=stack_name):
                for summary in page["StackResourceSummaries"]:
                    logical, physical = (
                        summary.get("LogicalResourceId"),
                        summary.get("PhysicalResourceId"),
                    )
                    if logical and physical:
                        found.append(
                            StackResource(logical, physical, summary.get("ResourceType", ""))
                        )
        except botocore.exceptions.ClientError as exc:
            if stack_missing(exc):
                return None
            raise
    return found


def stack_resources(aws: Aws, stack_name: str) -> dict[str, str] | None:
    """Logical id -> physical id of a stack's resources; None if the stack does not exist."""
    found = list_resources(aws, stack_name)
    return None if found is None else {r.logical_id: r.physical_id for r in found}


def deployed_template(aws: Aws, stack_name: str) -> dict[str, Any] | None:
    """The template a stack was last given (as submitted), parsed; None if not JSON.

    botocore already decodes a JSON TemplateBody into a dict; a string is what it left alone.
    """
    with translate_errors(f"reading the template of stack {stack_name}"):
        body = aws.client("cloudformation").get_template(
            StackName=stack_name, TemplateStage="Original"
        )["TemplateBody"]
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    return dict(body) if isinstance(body, dict) else None


# --- stacks of a project -------------------------------------------------------------------

BUSY_SUFFIX = "_IN_PROGRESS"
TEMPLATE_BODY_LIMIT = 51_200  # bytes CloudFormation accepts inline; larger goes through S3
# Where large templates go in the artifact bucket. A plan (pull requests, the plan role) may
# write only under the review prefix, which no deploy reads: what a pull request uploads can
# never become what a deploy runs.
DEPLOY_TEMPLATE_PREFIX = "nami/templates/"
REVIEW_PREFIX = "nami/review/"
REVIEW_TEMPLATE_PREFIX = f"{REVIEW_PREFIX}templates/"


@dataclass(frozen=True)
class StackInfo:
    name: str
    stack_id: str
    status: str
    description: str
    tags: dict[str, str]
    updated: datetime | None
    parameters: dict[str, str] = field(default_factory=dict)  # the values it was deployed with

    @property
    def busy(self) -> bool:
        # REVIEW_IN_PROGRESS is a stack that only ever had a change set: nothing runs there.
        return self.status.endswith(BUSY_SUFFIX) and self.status != "REVIEW_IN_PROGRESS"


def _stack_info(raw: dict[str, Any]) -> StackInfo:
    return StackInfo(
        name=raw["StackName"],
        stack_id=raw.get("StackId", ""),
        status=raw["StackStatus"],
        description=raw.get("Description") or "",
        tags={t["Key"]: t["Value"] for t in raw.get("Tags") or []},
        updated=raw.get("LastUpdatedTime") or raw.get("CreationTime"),
        parameters={
            str(p["ParameterKey"]): str(p.get("ParameterValue") or "")
            for p in raw.get("Parameters") or []
            if "ParameterKey" in p
        },
    )


def list_stacks(aws: Aws) -> dict[str, StackInfo]:
    """Every live stack in the region, by name: one paginated call (100 stacks a page),
    so planning N pipelines costs N/100 reads, not N."""
    found: dict[str, StackInfo] = {}
    with translate_errors("listing CloudFormation stacks"):
        for page in aws.client("cloudformation").get_paginator("describe_stacks").paginate():
            for raw in page["Stacks"]:
                if raw["StackStatus"] != "DELETE_COMPLETE":
                    found[raw["StackName"]] = _stack_info(raw)
    return found


def describe_stack(aws: Aws, stack_name: str) -> StackInfo | None:
    with translate_errors(f"reading stack {stack_name}"):
        try:
            stacks = aws.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        except botocore.exceptions.ClientError as exc:
            if stack_missing(exc):
                return None
            raise
    live = [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
    return _stack_info(live[0]) if live else None


# --- change sets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeSetResult:
    change_set_id: str
    stack_id: str
    status: str  # CREATE_COMPLETE | FAILED
    reason: str
    changes: list[dict[str, str]]

    @property
    def empty(self) -> bool:
        return self.status == "FAILED" and _no_changes(self.reason)


def _no_changes(reason: str) -> bool:
    return "didn't contain changes" in reason or "No updates are to be performed" in reason


def template_argument(aws: Aws, body: str, bucket: str | None, prefix: str) -> dict[str, str]:
    """TemplateBody when it fits; otherwise upload under `prefix` of the artifact bucket by
    content hash. Always uploaded, never trusted because the key exists. CloudFormation reads
    the object with the caller's credentials when the change set is made, so the role needs
    s3:GetObject on it (https://repost.aws/knowledge-center/cfn-s3-access-denied-error)."""
    if len(body.encode()) <= TEMPLATE_BODY_LIMIT or not bucket:
        return {"TemplateBody": body}
    key = f"{prefix}{hashlib.sha256(body.encode()).hexdigest()}.json"
    with translate_errors(f"uploading a template to s3://{bucket}/{key}"):
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())
    return {"TemplateURL": template_url(aws.region, bucket, key)}


def template_url(region: str, bucket: str, key: str) -> str:
    """Path-style, so bucket names with dots keep a valid certificate; China regions live
    under their own domain."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://s3.{region}.{suffix}/{bucket}/{key}"


def create_change_set(
    aws: Aws,
    stack_name: str,
    name: str,
    template: dict[str, str],
    *,
    create: bool,
    tags: dict[str, str],
    poll_seconds: float,
    parameters: dict[str, str] | None = None,
) -> ChangeSetResult:
    """Create a change set, wait until CloudFormation has computed it, and describe it."""
    cfn = aws.client("cloudformation")
    doing = f"creating change set {name} for {stack_name}"
    with translate_errors(doing):
        try:
            created = cfn.create_change_set(
                StackName=stack_name,
                ChangeSetName=name,
                ChangeSetType="CREATE" if create else "UPDATE",
                Capabilities=["CAPABILITY_IAM"],
                Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
                Parameters=[
                    {"ParameterKey": k, "ParameterValue": v}
                    for k, v in sorted((parameters or {}).items())
                ],
                **template,
            )
        except botocore.exceptions.ClientError as exc:
            # AWS makes an UPDATE change set without changes and ends it FAILED ("The
            # submitted information didn't contain changes..."). moto 5.2 does that only
            # without Parameters: with them it refuses CreateChangeSet itself, "No updates
            # are to be performed." (moto/cloudformation/responses.py,
            # _validate_different_update). Both mean the same: nothing to change.
            if _no_changes(error_message(exc)):
                return ChangeSetResult("", "", "FAILED", error_message(exc), [])
            raise
    change_set_id, stack_id = created["Id"], created["StackId"]
    status, reason = _wait_change_set(aws, change_set_id, poll_seconds, doing)
    changes = _changes(aws, change_set_id) if status == "CREATE_COMPLETE" else []
    return ChangeSetResult(change_set_id, stack_id, status, reason, changes)


def _wait_change_set(
    aws: Aws, change_set_id: str, poll_seconds: float, doing: str
) -> tuple[str, str]:
    cfn = aws.client("cloudformation")
    while True:
        with translate_errors(doing):
            described = cfn.describe_change_set(ChangeSetName=change_set_id)
        status = described["Status"]
        if status in ("CREATE_COMPLETE", "FAILED"):
            return status, described.get("StatusReason", "")
        time.sleep(poll_seconds)


def _changes(aws: Aws, change_set_id: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    token: str | None = None
    cfn = aws.client("cloudformation")
    while True:
        with translate_errors("describing a change set"):
            page = cfn.describe_change_set(
                ChangeSetName=change_set_id, **({"NextToken": token} if token else {})
            )
        for change in page.get("Changes", []):
            detail = change.get("ResourceChange", {})
            rows.append(
                {
                    "action": str(detail.get("Action", "")),
                    "logical_id": str(detail.get("LogicalResourceId", "")),
                    "resource_type": str(detail.get("ResourceType", "")),
                    "replacement": str(detail.get("Replacement", "")),
                }
            )
        token = page.get("NextToken")
        if not token:
            return rows


def delete_change_set(aws: Aws, change_set_id: str) -> None:
    with translate_errors("deleting a change set"):
        try:
            aws.client("cloudformation").delete_change_set(ChangeSetName=change_set_id)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "ChangeSetNotFound":
                raise


def execute_change_set(aws: Aws, change_set_id: str) -> None:
    with translate_errors("executing a change set"):
        aws.client("cloudformation").execute_change_set(ChangeSetName=change_set_id)


def delete_stack(aws: Aws, stack_name: str) -> None:
    with translate_errors(f"deleting stack {stack_name}"):
        aws.client("cloudformation").delete_stack(StackName=stack_name)


# --- waiting and explaining ----------------------------------------------------------------


@dataclass(frozen=True)
class StackEvent:
    event_id: str
    stack_name: str
    logical_id: str
    resource_type: str
    status: str
    reason: str
    timestamp: datetime

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")


def stack_events(aws: Aws, stack_name: str, since: datetime) -> list[StackEvent]:
    """Events of a stack newer than `since`, oldest first."""
    events: list[StackEvent] = []
    paginator = aws.client("cloudformation").get_paginator("describe_stack_events")
    with translate_errors(f"reading the events of {stack_name}"):
        for page in paginator.paginate(StackName=stack_name):
            for raw in page["StackEvents"]:
                if raw["Timestamp"] <= since:
                    return sorted(events, key=lambda e: e.timestamp)
                events.append(
                    StackEvent(
                        event_id=raw.get("EventId", ""),
                        stack_name=stack_name,
                        logical_id=raw.get("LogicalResourceId", ""),
                        resource_type=raw.get("ResourceType", ""),
                        status=raw.get("ResourceStatus", ""),
                        reason=raw.get("ResourceStatusReason", "") or "",
                        timestamp=raw["Timestamp"],
                    )
                )
    return sorted(events, key=lambda e: e.timestamp)


def settled(status: str) -> bool:
    """No operation runs on the stack (REVIEW_IN_PROGRESS: only change sets, nothing runs)."""
    return not status.endswith(BUSY_SUFFIX) or status == "REVIEW_IN_PROGRESS"


def create_finished(status: str) -> bool:
    # Right after ExecuteChangeSet a new stack may still read REVIEW_IN_PROGRESS.
    return status != "REVIEW_IN_PROGRESS" and settled(status)


def delete_finished(status: str) -> bool:
    # Right after DeleteStack the stack may still read its old status.
    return status == "GONE" or (status.startswith("DELETE_") and settled(status))


def wait_until_settled(
    aws: Aws,
    stack_name: str,
    *,
    since: datetime,
    poll_seconds: float,
    on_event: Callable[[StackEvent], None],
    finished: Callable[[str], bool] = settled,
    timeout_seconds: float = 3600,
) -> tuple[str, list[StackEvent]]:
    """Poll until `finished(status)`, streaming events newer than `since` as they happen.
    Returns the final status ("GONE" once deleted) and every event seen."""
    seen: list[StackEvent] = []
    seen_ids: set[str] = set()  # by id: two events may share a timestamp
    deadline = time.monotonic() + timeout_seconds
    while True:
        info = describe_stack(aws, stack_name)
        for event in stack_events(aws, stack_name, since) if info else []:
            if event.event_id in seen_ids:
                continue
            seen_ids.add(event.event_id)
            seen.append(event)
            on_event(event)
        status = info.status if info else "GONE"
        if finished(status):
            return status, seen
        if time.monotonic() > deadline:
            raise AwsError(f"stack {stack_name} is still {status} after {timeout_seconds:.0f}s")
        time.sleep(poll_seconds)


def wait_if_busy(
    aws: Aws, stack_name: str, *, poll_seconds: float, on_event: Callable[[StackEvent], None]
) -> StackInfo | None:
    """Never race another operation on a stack: wait for it to finish. Returns the stack as
    it is now (None if it is gone)."""
    info = describe_stack(aws, stack_name)
    if info is None or not info.busy:
        return info
    wait_until_settled(
        aws,
        stack_name,
        since=latest_event_time(aws, stack_name),
        poll_seconds=poll_seconds,
        on_event=on_event,
    )
    return describe_stack(aws, stack_name)


def latest_event_time(aws: Aws, stack_name: str) -> datetime:
    """The newest event's time (CloudFormation's clock, not ours): events after it belong
    to the operation about to start."""
    with translate_errors(f"reading the events of {stack_name}"):
        try:
            page = aws.client("cloudformation").describe_stack_events(StackName=stack_name)
        except botocore.exceptions.ClientError as exc:
            if stack_missing(exc):
                return datetime.min.replace(tzinfo=UTC)
            raise
    times = [raw["Timestamp"] for raw in page.get("StackEvents", [])]
    return max(times) if times else datetime.min.replace(tzinfo=UTC)


def wait_for_execution(
    aws: Aws, change_set_id: str, *, poll_seconds: float, timeout_seconds: float = 300
) -> None:
    """ExecuteChangeSet returns before the stack changes status; wait until CloudFormation
    has taken the change set up, so the status read next belongs to this execution."""
    deadline = time.monotonic() + timeout_seconds
    cfn = aws.client("cloudformation")
    while time.monotonic() < deadline:
        with translate_errors("reading a change set's execution status"):
            try:
                described = cfn.describe_change_set(ChangeSetName=change_set_id)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == "ChangeSetNotFound":
                    return  # executed change sets may be gone already
                raise
        if described.get("ExecutionStatus") != "AVAILABLE":
            return
        time.sleep(poll_seconds)
    raise AwsError(f"change set {change_set_id} was not taken up within {timeout_seconds:.0f}s")


def failure_reasons(events: list[StackEvent]) -> list[str]:
    """What actually broke: resource failures with their reasons, not just ROLLBACK_COMPLETE.
    Cancellations caused by another resource's failure are left out when a cause exists."""
    failed = [e for e in events if e.failed and e.reason]
    causes = [e for e in failed if "cancelled" not in e.reason.lower()]
    return [f"{e.logical_id} ({e.resource_type}): {e.status}: {e.reason}" for e in causes or failed]


def remove_unused_review_stack(aws: Aws, stack: str) -> None:
    """Delete a REVIEW_IN_PROGRESS stack (what a CREATE change set leaves) only when no change
    set is left on it: another run's change set (a deploy, a plan) may still be waiting there.
    `stack` is the stack id from our own CreateChangeSet, so a newer namesake is never hit."""
    info = describe_stack(aws, stack)
    if info is None or info.status != "REVIEW_IN_PROGRESS":
        return
    with translate_errors(f"listing the change sets of {info.name}"):
        summaries = aws.client("cloudformation").list_change_sets(StackName=stack)["Summaries"]
    # The emulator lists every stack's change sets here; AWS only this stack's.
    left = [c for c in summaries if c.get("StackName") in (None, info.name)]
    if not left:
        delete_stack(aws, stack)
