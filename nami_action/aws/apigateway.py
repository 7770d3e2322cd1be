"""API Gateway's per-region account settings: the CloudWatch role that stage access logs need."""

from __future__ import annotations

import botocore.exceptions

from nami_action.aws.session import DENIED_CODES, Aws, error_code, translate_errors

# Answers that leave the setting unknown: an endpoint without GetAccount (an emulator), or a
# role without apigateway:GET on /account (an older nami policy): the plan goes on unchecked.
UNKNOWN_CODES = {"NotImplemented", "UnknownOperationException", "InvalidAction", *DENIED_CODES}


def logging_role_arn(aws: Aws) -> str | None:
    """The `cloudwatchRoleArn` of API Gateway's account settings in this region, or None.

    A stage with access logs cannot be created without it ("CloudWatch Logs role ARN must be
    set in account settings to enable logging"); `nami bootstrap` sets it
    (AWS::ApiGateway::Account). Returns "" when the setting cannot be read (UNKNOWN_CODES).
    """
    with translate_errors("reading API Gateway's account settings (apigateway:GET)"):
        try:
            account = aws.client("apigateway").get_account()
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in UNKNOWN_CODES:
                return ""
            raise
    return str(account.get("cloudwatchRoleArn") or "") or None
