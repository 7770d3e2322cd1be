"""Read a signing secret from its reference (`ssm:/path`, `secretsmanager:name`), for
`nami send --sign`. The value is returned to the caller only, never logged."""

from __future__ import annotations

import botocore.exceptions

from nami_action.aws.session import Aws, AwsError, error_code, translate_errors

SSM_PREFIX = "ssm:"
SECRETS_MANAGER_PREFIX = "secretsmanager:"
NOT_FOUND_CODES = {"ParameterNotFound", "ResourceNotFoundException"}


def read_secret(aws: Aws, reference: str) -> str:
    if reference.startswith(SSM_PREFIX):
        name = reference.removeprefix(SSM_PREFIX)
        doing = f"reading SSM parameter {name}"
        with translate_errors(doing):
            try:
                answer = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) in NOT_FOUND_CODES:
                    raise AwsError(f"SSM parameter {name} does not exist") from exc
                raise
        return str(answer["Parameter"]["Value"])
    if reference.startswith(SECRETS_MANAGER_PREFIX):
        name = reference.removeprefix(SECRETS_MANAGER_PREFIX)
        with translate_errors(f"reading secret {name}"):
            try:
                answer = aws.client("secretsmanager").get_secret_value(SecretId=name)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) in NOT_FOUND_CODES:
                    raise AwsError(f"secret {name} does not exist in Secrets Manager") from exc
                raise
        if "SecretString" not in answer:
            raise AwsError(f"secret {name} has no SecretString (binary secrets are not supported)")
        return str(answer["SecretString"])
    raise AwsError(f"unknown secret reference {reference!r}: use ssm:/path or secretsmanager:name")
