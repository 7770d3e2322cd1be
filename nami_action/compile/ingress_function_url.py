"""`ingress: function-url`: the ingest function (runtime/ingest.py) behind a Lambda function URL.

No gateway fee: each request is one invocation of a small function that verifies the
signature, answers handshakes and writes the envelope to SQS. It runs from the consumer's zip
(which holds the runtime), with its own role: send to this queue, read the verify secret.
https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
"""

from __future__ import annotations

import json
from typing import Any

from troposphere import GetAtt, Ref, Template
from troposphere.awslambda import Environment, Function, LoggingConfig, Permission, Url
from troposphere.logs import LogGroup

from nami_action.compile import iam, names
from nami_action.compile.consumer import CodeLocation, code_property, runtime_settings
from nami_action.config import Config, PipelineConfig
from nami_action.config.models import IngressFunction

FUNCTION = names.INGEST_FUNCTION
ROLE = "IngestRole"
URL = "IngestUrl"
LOGS = "IngestLogs"
HANDLER = "nami_runtime.ingest.handler"
# Verify, then one SendMessage: well under a second; the sender waits at most this long.
TIMEOUT_SECONDS = 10


def ingest_settings(pipeline: PipelineConfig) -> dict[str, Any]:
    """NAMI_CONFIG for the ingest function: the verify block, no consumer secrets."""
    return {**runtime_settings(pipeline), "dedupe": None, "secrets": {}}


def verify_references(pipeline: PipelineConfig) -> list[str]:
    secret = (ingest_settings(pipeline)["verify"] or {}).get("secret")
    return [secret] if isinstance(secret, str) else list(secret or [])


def _environment(pipeline: PipelineConfig) -> dict[str, Any]:
    queue = pipeline.spec.queue
    variables: dict[str, Any] = {
        "NAMI_CONFIG": json.dumps(ingest_settings(pipeline), sort_keys=True),
        "NAMI_QUEUE_URL": Ref(names.QUEUE),
        "NAMI_MAX_MESSAGE_SIZE": str(int(queue.max_message_size)),
    }
    if queue.group_by:
        variables["NAMI_GROUP_BY"] = queue.group_by
    return variables


def add_function_url_ingress(
    template: Template, config: Config, pipeline: PipelineConfig, code: CodeLocation
) -> None:
    tags = names.cfn_tags(config, pipeline)
    settings = pipeline.spec.ingress_function or IngressFunction()
    template.add_resource(
        names.disposable(LogGroup(LOGS, RetentionInDays=names.LOG_RETENTION_DAYS, Tags=tags))
    )
    statements = [
        iam.statement(["logs:CreateLogStream", "logs:PutLogEvents"], [GetAtt(LOGS, "Arn")]),
        iam.statement(["sqs:SendMessage"], [GetAtt(names.QUEUE, "Arn")]),
        *iam.secret_statements(verify_references(pipeline)),
    ]
    template.add_resource(
        iam.role(
            ROLE,
            service="lambda.amazonaws.com",
            config=config,
            policy_name="ingest",
            policy=iam.document(*statements),
            tags=tags,
        )
    )
    consumer = pipeline.spec.consumer
    reserved = (
        {"ReservedConcurrentExecutions": settings.reserved_concurrency}
        if settings.reserved_concurrency is not None
        else {}
    )
    template.add_resource(
        Function(
            FUNCTION,
            Description=f"Nami ingest for {pipeline.stack_name}: function URL -> SQS",
            Runtime=consumer.runtime,
            Architectures=[consumer.architecture],
            Handler=HANDLER,
            Code=code_property(template, code),
            MemorySize=settings.memory,
            Timeout=TIMEOUT_SECONDS,
            Role=GetAtt(ROLE, "Arn"),
            Environment=Environment(Variables=_environment(pipeline)),
            LoggingConfig=LoggingConfig(LogGroup=Ref(LOGS)),
            Tags=tags,
            **reserved,
        )
    )
    template.add_resource(Url(URL, AuthType="NONE", TargetFunctionArn=GetAtt(FUNCTION, "Arn")))
    # Anyone may call the URL (senders prove themselves by signature, checked in the
    # function). Since October 2025 a public URL needs both permissions.
    template.add_resource(
        Permission(
            "IngestUrlPermission",
            Action="lambda:InvokeFunctionUrl",
            FunctionName=Ref(FUNCTION),
            Principal="*",
            FunctionUrlAuthType="NONE",
        )
    )
    template.add_resource(
        Permission(
            "IngestInvokePermission",
            Action="lambda:InvokeFunction",
            FunctionName=Ref(FUNCTION),
            Principal="*",
            InvokedViaFunctionUrl=True,
        )
    )
