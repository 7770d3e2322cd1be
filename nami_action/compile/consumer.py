"""The consumer: its role, log group, Lambda function, event source mapping, dedupe table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from troposphere import AWS_NO_VALUE, Equals, GetAtt, If, Not, Parameter, Ref, Template
from troposphere.awslambda import (
    Code,
    Environment,
    EventSourceMapping,
    Function,
    LoggingConfig,
    ScalingConfig,
)
from troposphere.dynamodb import (
    AttributeDefinition,
    KeySchema,
    SSESpecification,
    Table,
    TimeToLiveSpecification,
)
from troposphere.iam import Role
from troposphere.logs import LogGroup
from troposphere.validators import integer

from nami_action.compile import iam, names
from nami_action.compile.forward import (
    add_forward_secret,
    forward_config,
    forward_references,
    forward_statements,
    forward_variables,
)
from nami_action.compile.routes import (
    route_settings,
    router_settings,
    router_statements,
    router_variables,
)
from nami_action.config import Config, PipelineConfig
from nami_action.config.forward import concurrency, function_timeout
from nami_action.config.models import NoVerify, is_secret_reference
from nami_action.config.routes import dedupes
from nami_action.config.rules import retry_schedule

if TYPE_CHECKING:
    from nami_action.package.manifest import CodeManifest

RUNTIME_HANDLER = "nami_runtime.entry.handler"


class SqsScalingConfig(ScalingConfig):  # type: ignore[misc]
    """troposphere 4.11 reuses the name ScalingConfig for another resource's property and
    loses the event source mapping's MaximumConcurrency; this restores it."""

    props = {"MaximumConcurrency": (integer, True)}  # noqa: RUF012 - troposphere's shape


DEDUPE_TABLE = "DedupeTable"
ARTIFACT_BUCKET_PARAMETER = "ArtifactBucket"
# The S3 version of the zip, given when the change set is made (plan/code_versions.py): the
# template stays the same for the same zip, and the function runs exactly the version the
# deploy checked, whatever is put under the key later. "" (a plan, before the upload) leaves
# S3ObjectVersion out.
ARTIFACT_VERSION_PARAMETER = "ArtifactVersion"
ARTIFACT_VERSION_GIVEN = "ArtifactVersionGiven"
LOG_GROUP = "ConsumerLogs"


@dataclass(frozen=True)
class CodeLocation:
    """Where the package step put the consumer zip (the key is its content hash)."""

    bucket: str | None  # None: left to the template's ArtifactBucket parameter
    key: str
    manifest: CodeManifest | None = None  # what the zip holds, recorded in the Metadata


def runtime_settings(pipeline: PipelineConfig) -> dict[str, Any]:
    """NAMI_CONFIG: what the Nami runtime in the Lambda needs. References, never secrets."""
    spec = pipeline.spec
    verify = None if isinstance(spec.verify, NoVerify) else spec.verify.model_dump()
    dedupe = spec.dedupe.model_dump() if dedupes(spec) and spec.dedupe else None
    secrets = {k: v for k, v in handler_environment(pipeline).items() if is_secret_reference(v)}
    settings: dict[str, Any] = {
        "pipeline": pipeline.name,
        "stack": pipeline.stack_name,  # the Pipeline dimension of the runtime's metrics
        "mode": spec.consumer.mode,
        "handler": spec.consumer.handler,
        "verify": verify,
        "dedupe": dedupe,
        "secrets": dict(sorted(secrets.items())),
    }
    schedule = retry_schedule(spec)
    if schedule is not None:
        # Only when set: pipelines without a schedule keep byte-identical templates.
        settings["retry"] = schedule.to_json()
    if spec.forward is not None:
        settings["forward"] = forward_config(pipeline).to_json()
    settings.update(router_settings(pipeline))
    settings.update(route_settings(pipeline))
    return settings


def handler_environment(pipeline: PipelineConfig) -> dict[str, str]:
    """`consumer.environment`: the handler's variables and secrets. A routes pipeline's
    function is the router: it runs no handler, so they stay with the routes (each route's
    function gets its own). The router reads only the verify secret (one it cannot read
    would otherwise stop every route) and the settings routing needs."""
    return {} if pipeline.spec.routes else dict(pipeline.spec.consumer.environment)


def secret_references(pipeline: PipelineConfig) -> list[str]:
    settings = runtime_settings(pipeline)
    references = list(settings["secrets"].values())
    verify_secret = (settings["verify"] or {}).get("secret")
    # One reference, or a list: current and previous during a rotation.
    references += [verify_secret] if isinstance(verify_secret, str) else verify_secret or []
    return references + forward_references(pipeline)


def add_consumer(
    template: Template, config: Config, pipeline: PipelineConfig, code: CodeLocation
) -> None:
    spec = pipeline.spec
    tags = names.cfn_tags(config, pipeline)
    template.add_resource(
        names.disposable(LogGroup(LOG_GROUP, RetentionInDays=names.LOG_RETENTION_DAYS, Tags=tags))
    )
    if dedupes(spec):
        _add_dedupe_table(template, config, pipeline)
    if spec.forward:
        add_forward_secret(template, config, pipeline)
    template.add_resource(_role(config, pipeline, tags))
    template.add_resource(_function(pipeline, code_property(template, code), tags))
    template.add_resource(_event_source(pipeline))


def code_property(template: Template, code: CodeLocation) -> Code:
    """The Lambda `Code` of the consumer's zip, adding the parameters it takes on first use
    (the consumer and a function-url ingest run from the same zip)."""
    if code.bucket is None and ARTIFACT_BUCKET_PARAMETER not in template.parameters:
        template.add_parameter(
            Parameter(
                ARTIFACT_BUCKET_PARAMETER,
                Type="String",
                Description="S3 bucket holding the consumer zip (see `nami bootstrap`)",
            )
        )
    if ARTIFACT_VERSION_PARAMETER not in template.parameters:
        template.add_parameter(
            Parameter(
                ARTIFACT_VERSION_PARAMETER,
                Type="String",
                Default="",
                Description="S3 version id of the consumer zip (nami deploy sets it)",
            )
        )
        template.add_condition(
            ARTIFACT_VERSION_GIVEN, Not(Equals(Ref(ARTIFACT_VERSION_PARAMETER), ""))
        )
    return Code(
        S3Bucket=code.bucket or Ref(ARTIFACT_BUCKET_PARAMETER),
        S3Key=code.key,
        S3ObjectVersion=If(
            ARTIFACT_VERSION_GIVEN, Ref(ARTIFACT_VERSION_PARAMETER), Ref(AWS_NO_VALUE)
        ),
    )


def _role(config: Config, pipeline: PipelineConfig, tags: Any) -> Role:
    statements = [
        iam.statement(["logs:CreateLogStream", "logs:PutLogEvents"], [GetAtt(LOG_GROUP, "Arn")]),
        iam.statement(
            [
                # ChangeMessageVisibility: the runtime applies consumer.retry to failed records.
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            [GetAtt(names.QUEUE, "Arn")],
        ),
        # Rejected and malformed webhooks are moved to the DLQ by the runtime, with the reason.
        iam.statement(["sqs:SendMessage"], [GetAtt(names.DEAD_LETTER_QUEUE, "Arn")]),
        *iam.secret_statements(secret_references(pipeline)),
        *forward_statements(pipeline),
        *router_statements(pipeline),
    ]
    if dedupes(pipeline.spec):
        statements.append(
            iam.statement(
                ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                [GetAtt(DEDUPE_TABLE, "Arn")],
            )
        )
    return iam.role(
        "ConsumerRole",
        service="lambda.amazonaws.com",
        config=config,
        policy_name="consume",
        policy=iam.document(*statements),
        tags=tags,
    )


def _function(pipeline: PipelineConfig, code: Code, tags: Any) -> Function:
    consumer = pipeline.spec.consumer
    variables: dict[str, Any] = {
        k: v for k, v in sorted(handler_environment(pipeline).items()) if not is_secret_reference(v)
    }
    variables["NAMI_CONFIG"] = json.dumps(runtime_settings(pipeline), sort_keys=True)
    variables["NAMI_DEAD_LETTER_QUEUE_URL"] = Ref(names.DEAD_LETTER_QUEUE)
    if dedupes(pipeline.spec):
        variables["NAMI_DEDUPE_TABLE"] = Ref(DEDUPE_TABLE)
    variables.update(forward_variables(pipeline))
    variables.update(router_variables(pipeline))
    return Function(
        names.FUNCTION,
        Description=f"Nami {_role_name(pipeline)} for {pipeline.stack_name}",
        Runtime=consumer.runtime,
        Architectures=[consumer.architecture],
        Handler=RUNTIME_HANDLER,
        Code=code,
        MemorySize=consumer.memory,
        Timeout=function_timeout(pipeline.spec),
        Role=GetAtt("ConsumerRole", "Arn"),
        Environment=Environment(Variables=variables),
        LoggingConfig=LoggingConfig(LogGroup=Ref(LOG_GROUP)),
        Tags=tags,
    )


def _role_name(pipeline: PipelineConfig) -> str:
    """What the function is, for people reading the console (unchanged for pipelines)."""
    return "router" if pipeline.spec.routes else "consumer"


def _event_source(pipeline: PipelineConfig) -> EventSourceMapping:
    consumer = pipeline.spec.consumer
    window = (
        {}
        if pipeline.spec.queue.fifo
        else {"MaximumBatchingWindowInSeconds": consumer.batching_window}
    )
    return EventSourceMapping(
        names.EVENT_SOURCE,
        EventSourceArn=GetAtt(names.QUEUE, "Arn"),
        FunctionName=Ref(names.FUNCTION),
        # `nami pause` disables the mapping outside the template; deploy keeps it disabled
        # (apply.py), whether or not CloudFormation re-sends this on an update.
        Enabled=True,
        BatchSize=consumer.batch_size,
        # The knob that protects the downstream: never more invocations than this at once.
        ScalingConfig=SqsScalingConfig(MaximumConcurrency=concurrency(pipeline.spec)),
        # Only the records whose call failed go back to the queue; the others are deleted.
        FunctionResponseTypes=["ReportBatchItemFailures"],
        **window,
    )


def _add_dedupe_table(template: Template, config: Config, pipeline: PipelineConfig) -> None:
    template.add_resource(
        names.disposable(
            Table(
                DEDUPE_TABLE,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[AttributeDefinition(AttributeName="id", AttributeType="S")],
                KeySchema=[KeySchema(AttributeName="id", KeyType="HASH")],
                TimeToLiveSpecification=TimeToLiveSpecification(
                    AttributeName="expiresAt", Enabled=True
                ),
                SSESpecification=SSESpecification(SSEEnabled=True),
                Tags=names.cfn_tags(config, pipeline),
            )
        )
    )
