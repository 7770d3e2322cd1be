"""CloudFormation reads shared by the planner, deploy and bootstrap."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions

from nami_action.aws.session import Aws, error_code, error_message, translate_errors


def stack_missing(exc: botocore.exceptions.ClientError) -> bool:
    return error_code(exc) == "ValidationError" and "does not exist" in error_message(exc)


def stack_resources(aws: Aws, stack_name: str) -> dict[str, str] | None:
    """Logical id -> physical id of a stack's resources; None if the stack does not exist.

    ListStackResources rather than DescribeStackResources: the emulator fails the latter on
    stacks holding resource types it does not model, and the former pages past 100 resources.
    """
    paginator = aws.client("cloudformation").get_paginator("list_stack_resources")
    found: dict[str, str] = {}
    with translate_errors(f"listing the resources of stack {stack_name}"):
        try:
            for page in paginator.paginate(StackName=stack_name):
                for summary in page["StackResourceSummaries"]:
                    logical, physical = (
                        summary.get("LogicalResourceId"),
                        summary.get("PhysicalResourceId"),
                    )
                    if logical and physical:
                        found[logical] = physical
        except botocore.exceptions.ClientError as exc:
            if stack_missing(exc):
                return None
            raise
    return found


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
