"""Live state of the resources Nami manages, read (and put back) with each service's API.

Every read returns the same dotted property paths as nami_action/drift/declared.py, or None
when the resource no longer exists. CloudFormation's own drift detection is started here
too; where it is missing (the emulator) or denied, DetectionUnavailable says why.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.exceptions
from botocore.parsers import ResponseParserError

from nami_action.aws.session import (
    DENIED_CODES,
    Aws,
    AwsError,
    error_code,
    error_message,
    translate_errors,
)
from nami_action.drift.declared import (
    ALARM,
    ALARM_PROPERTIES,
    ENVIRONMENT_PREFIX,
    FUNCTION,
    MAPPING,
    QUEUE,
    QUEUE_PROPERTIES,
    STAGE,
    THROTTLE_PREFIX,
    Declared,
)

NOT_FOUND_CODES = {
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "ResourceNotFoundException",
    "NotFoundException",
}


class DetectionUnavailable(Exception):
    """CloudFormation drift detection cannot be used here; the message says why."""


def read_live(aws: Aws, resource: Declared) -> dict[str, Any] | None:
    """The live values of one managed resource, or None if it is gone."""
    reader = READERS[resource.resource_type]
    with translate_errors(f"reading {resource.logical_id} ({resource.physical_id})"):
        try:
            return reader(aws, resource)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in NOT_FOUND_CODES:
                return None
            raise


def _queue(aws: Aws, resource: Declared) -> dict[str, Any]:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=resource.physical_id, AttributeNames=["All"]
    )["Attributes"]
    live: dict[str, Any] = {
        name: attributes[name] for name in QUEUE_PROPERTIES if name in attributes
    }
    redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
    live["RedrivePolicy.maxReceiveCount"] = redrive.get("maxReceiveCount")
    live["RedrivePolicy.deadLetterTargetArn"] = redrive.get("deadLetterTargetArn")
    return live


def _mapping(aws: Aws, resource: Declared) -> dict[str, Any]:
    mapping = aws.client("lambda").get_event_source_mapping(UUID=resource.physical_id)
    return {
        "BatchSize": mapping.get("BatchSize"),
        "MaximumBatchingWindowInSeconds": mapping.get("MaximumBatchingWindowInSeconds", 0),
        "ScalingConfig.MaximumConcurrency": (mapping.get("ScalingConfig") or {}).get(
            "MaximumConcurrency"
        ),
    }


def _function(aws: Aws, resource: Declared) -> dict[str, Any]:
    found = aws.client("lambda").get_function_configuration(FunctionName=resource.physical_id)
    variables = (found.get("Environment") or {}).get("Variables") or {}
    return {
        "MemorySize": found.get("MemorySize"),
        "Timeout": found.get("Timeout"),
        **{ENVIRONMENT_PREFIX + name: value for name, value in variables.items()},
    }


def _stage(aws: Aws, resource: Declared) -> dict[str, Any]:
    stage = aws.client("apigateway").get_stage(
        restApiId=resource.rest_api_id, stageName=resource.physical_id
    )
    settings = (stage.get("methodSettings") or {}).get("*/*") or {}
    return {
        THROTTLE_PREFIX + "ThrottlingBurstLimit": settings.get("throttlingBurstLimit"),
        THROTTLE_PREFIX + "ThrottlingRateLimit": settings.get("throttlingRateLimit"),
    }


def _alarm(aws: Aws, resource: Declared) -> dict[str, Any] | None:
    return read_alarms(aws, [resource.physical_id]).get(resource.physical_id)


def read_alarms(aws: Aws, names: list[str]) -> dict[str, dict[str, Any] | None]:
    """Several alarms in one DescribeAlarms per 100 names (a pipeline has four): name ->
    live values, or None where the alarm is gone."""
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(names)
    for start in range(0, len(names), 100):
        with translate_errors("reading alarms"):
            answer = aws.client("cloudwatch").describe_alarms(
                AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm"]
            )
        for alarm in answer.get("MetricAlarms") or []:
            found[alarm["AlarmName"]] = {
                name: alarm[name] for name in ALARM_PROPERTIES if name in alarm
            }
    return found


READERS = {QUEUE: _queue, MAPPING: _mapping, FUNCTION: _function, STAGE: _stage, ALARM: _alarm}


# --- CloudFormation drift detection -------------------------------------------------------


def start_detection(aws: Aws, stack_name: str) -> str:
    """Start DetectStackDrift; its id. Raises DetectionUnavailable where it cannot run."""
    with _detection_errors():
        answer = aws.client("cloudformation").detect_stack_drift(StackName=stack_name)
    return str(answer["StackDriftDetectionId"])


def detection_result(
    aws: Aws, stack_name: str, detection_id: str, *, poll_seconds: float, timeout_seconds: float
) -> tuple[list[dict[str, Any]], str]:
    """Wait for a detection (it takes seconds to minutes), then the MODIFIED and DELETED
    resource drifts, and the status reason when detection failed for some resources
    (DETECTION_FAILED still carries results for the resources it could check:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackDriftDetectionStatus.html)."""
    cfn = aws.client("cloudformation")
    deadline = time.monotonic() + timeout_seconds
    while True:
        with _detection_errors():
            status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
        if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
            break
        if time.monotonic() > deadline:
            raise DetectionUnavailable(f"no result for {stack_name} within {timeout_seconds:.0f}s")
        time.sleep(poll_seconds)
    reason = ""
    if status["DetectionStatus"] == "DETECTION_FAILED":
        reason = str(status.get("DetectionStatusReason", "detection failed"))
    drifts: list[dict[str, Any]] = []
    token: str | None = None
    while True:  # botocore has no paginator for this call: follow NextToken
        with _detection_errors():
            page = cfn.describe_stack_resource_drifts(
                StackName=stack_name,
                StackResourceDriftStatusFilters=["MODIFIED", "DELETED"],
                **({"NextToken": token} if token else {}),
            )
        drifts += page.get("StackResourceDrifts") or []
        token = page.get("NextToken")
        if not token:
            break
    return drifts, reason


@contextmanager
def _detection_errors() -> Iterator[None]:
    """Access denied, an endpoint that does not implement the call (the emulator answers
    HTTP 500 with an HTML page) and other AWS errors become DetectionUnavailable."""
    try:
        yield
    except ResponseParserError as exc:
        raise DetectionUnavailable("the endpoint does not implement it") from exc
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in DENIED_CODES:
            raise DetectionUnavailable(f"access denied ({error_message(exc)})") from exc
        raise DetectionUnavailable(f"{code}: {error_message(exc)}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise DetectionUnavailable(str(exc)) from exc


# --- putting declared values back ---------------------------------------------------------


def restore(aws: Aws, resource: Declared, paths: list[str]) -> list[str]:
    """Set the drifted `paths` of one resource back to their declared values with the
    service's own API (CloudFormation only re-applies properties whose template value
    changes, so an unchanged template never undoes drift). Returns what was restored."""
    writer = WRITERS.get(resource.resource_type)
    if writer is None:
        raise AwsError(f"{resource.logical_id}: nami cannot restore a {resource.resource_type}")
    with translate_errors(f"restoring {resource.logical_id} ({resource.physical_id})"):
        writer(aws, resource, paths)
    return [f"{resource.logical_id} {path}" for path in paths]


def _want(resource: Declared, path: str) -> Any:
    return resource.properties.get(path)


def _restore_queue(aws: Aws, resource: Declared, paths: list[str]) -> None:
    attributes = {name: str(_want(resource, name)) for name in QUEUE_PROPERTIES if name in paths}
    if any(path.startswith("RedrivePolicy.") for path in paths):
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": _want(resource, "RedrivePolicy.deadLetterTargetArn"),
                "maxReceiveCount": _want(resource, "RedrivePolicy.maxReceiveCount"),
            }
        )
    aws.client("sqs").set_queue_attributes(QueueUrl=resource.physical_id, Attributes=attributes)


def _restore_mapping(aws: Aws, resource: Declared, paths: list[str]) -> None:
    concurrency = _want(resource, "ScalingConfig.MaximumConcurrency")
    aws.client("lambda").update_event_source_mapping(
        UUID=resource.physical_id,
        BatchSize=int(_want(resource, "BatchSize")),
        MaximumBatchingWindowInSeconds=int(_want(resource, "MaximumBatchingWindowInSeconds")),
        # No Enabled: a restore must not resume a paused consumer (drift/declared.NOT_DRIFT).
        # An empty ScalingConfig removes the limit (Lambda UpdateEventSourceMapping).
        ScalingConfig={"MaximumConcurrency": int(concurrency)} if concurrency else {},
    )


def _restore_function(aws: Aws, resource: Declared, paths: list[str]) -> None:
    changes: dict[str, Any] = {}
    if "MemorySize" in paths:
        changes["MemorySize"] = int(_want(resource, "MemorySize"))
    if "Timeout" in paths:
        changes["Timeout"] = int(_want(resource, "Timeout"))
    if any(path.startswith(ENVIRONMENT_PREFIX) for path in paths):
        variables = (resource.raw.get("Environment") or {}).get("Variables")
        if not isinstance(variables, dict):
            raise AwsError(f"{resource.logical_id}: the declared environment is not resolvable")
        changes["Environment"] = {"Variables": {k: str(v) for k, v in variables.items()}}
    aws.client("lambda").update_function_configuration(FunctionName=resource.physical_id, **changes)


def _restore_stage(aws: Aws, resource: Declared, paths: list[str]) -> None:
    operations = []
    for name, setting in (
        ("ThrottlingBurstLimit", "burstLimit"),
        ("ThrottlingRateLimit", "rateLimit"),
    ):
        if THROTTLE_PREFIX + name in paths:
            value = _want(resource, THROTTLE_PREFIX + name)
            operations.append(
                {"op": "replace", "path": f"/*/*/throttling/{setting}", "value": str(value)}
            )
    aws.client("apigateway").update_stage(
        restApiId=resource.rest_api_id, stageName=resource.physical_id, patchOperations=operations
    )


def _restore_alarm(aws: Aws, resource: Declared, paths: list[str]) -> None:
    """PutMetricAlarm replaces the whole alarm: send every declared (resolved) property."""
    allowed = set(PUT_METRIC_ALARM_FIELDS)
    arguments = {name: value for name, value in resource.raw.items() if name in allowed}
    arguments["AlarmName"] = resource.physical_id
    aws.client("cloudwatch").put_metric_alarm(**arguments)


PUT_METRIC_ALARM_FIELDS = (
    "ActionsEnabled",
    "AlarmActions",
    "AlarmDescription",
    "ComparisonOperator",
    "DatapointsToAlarm",
    "Dimensions",
    "EvaluateLowSampleCountPercentile",
    "EvaluationPeriods",
    "ExtendedStatistic",
    "InsufficientDataActions",
    "MetricName",
    "Metrics",
    "Namespace",
    "OKActions",
    "Period",
    "Statistic",
    "Threshold",
    "ThresholdMetricId",
    "TreatMissingData",
    "Unit",
)
WRITERS = {
    QUEUE: _restore_queue,
    MAPPING: _restore_mapping,
    FUNCTION: _restore_function,
    STAGE: _restore_stage,
    ALARM: _restore_alarm,
}
