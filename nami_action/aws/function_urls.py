"""The public URL of a pipeline's ingest function (`ingress: function-url`)."""

from __future__ import annotations

import botocore.exceptions

from nami_action.aws.session import Aws, error_code, translate_errors


def function_url(aws: Aws, function_name: str) -> str | None:
    """GetFunctionUrlConfig's FunctionUrl (ends with "/"); None when the function has none
    (moto's CloudFormation skips AWS::Lambda::Url, so on the emulator there is none)."""
    client = aws.client("lambda")
    with translate_errors("reading the ingest function's URL"):
        try:
            answer = client.get_function_url_config(FunctionName=function_name)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
    return str(answer["FunctionUrl"])
