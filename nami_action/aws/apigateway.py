"""API Gateway's per-region account settings: the CloudWatch role that stage access logs need."""

from __future__ import annotations

import time
from dataclasses import dataclass

import botocore.exceptions

from nami_action.aws.session import (
    DENIED_CODES,
    Aws,
    AwsError,
    error_code,
    error_message,
    translate_errors,
)
from nami_action.aws.stacks import stack_resources

# Answers that leave the setting unknown: an endpoint without GetAccount (an emulator), or a
# role without apigateway:GET on /account (an older nami policy): the plan goes on unchecked.
UNKNOWN_CODES = {"NotImplemented", "UnknownOperationException", "InvalidAction", *DENIED_CODES}


def logging_role_arn(aws: Aws) -> str | None:
    """The `cloudwatchRoleArn` of API Gateway's account settings in this region, or None.

    A stage with access logs cannot be created without it ("CloudWatch Logs role ARN must be
    set in account settings to enable logging"); `nami bootstrap` sets it when none is set
    (ensure_logging_role). Returns "" when the setting cannot be read (UNKNOWN_CODES).
    """
    with translate_errors("reading API Gateway's account settings (apigateway:GET)"):
        try:
            account = aws.client("apigateway").get_account()
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in UNKNOWN_CODES:
                return ""
            raise
    return str(account.get("cloudwatchRoleArn") or "") or None


# API Gateway checks that it may assume the role the moment the setting is changed; a role
# created seconds ago is not yet visible everywhere in IAM, and UpdateAccount answers this
# (a BadRequestException, which botocore does not retry).
NOT_YET_ASSUMABLE = "The role ARN does not have required permissions set to API Gateway"


@dataclass(frozen=True)
class LoggingRole:
    arn: str
    changed: bool  # False: the account already named a role, which nami left as it was


def ensure_logging_role(
    aws: Aws, role_arn: str, *, attempts: int = 12, delay_seconds: float = 5.0
) -> LoggingRole:
    """Name `role_arn` in API Gateway's account settings of this region, unless a role is named
    already: the setting is the account's, other stacks' access logs may use that role, and
    CloudFormation's AWS::ApiGateway::Account would overwrite it (and leave it pointing at a
    deleted role when its stack goes)."""
    current = logging_role_arn(aws)
    if current:
        return LoggingRole(current, changed=False)
    if current == "":
        raise AwsError(
            "cannot read API Gateway's account settings (apigateway:GET on /account), so the "
            "CloudWatch logging role was not set: run `nami bootstrap` with credentials that can"
        )
    client = aws.client("apigateway")
    patch = [{"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}]
    with translate_errors("setting API Gateway's CloudWatch logging role (apigateway:PATCH)"):
        for attempt in range(attempts):
            try:
                client.update_account(patchOperations=patch)
                return LoggingRole(role_arn, changed=True)
            except botocore.exceptions.ClientError as exc:
                if NOT_YET_ASSUMABLE not in error_message(exc) or attempt == attempts - 1:
                    raise
            time.sleep(delay_seconds)
    raise AssertionError("unreachable")


def stack_role_arn(aws: Aws, stack_name: str, logical_id: str) -> str:
    """The ARN of a role a deployed stack made (its physical id is the role's name)."""
    name = (stack_resources(aws, stack_name) or {}).get(logical_id)
    if not name:
        raise AwsError(f"stack {stack_name} has no {logical_id} role")
    with translate_errors(f"reading role {name} (iam:GetRole)"):
        return str(aws.client("iam").get_role(RoleName=name)["Role"]["Arn"])
