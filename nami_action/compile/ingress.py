"""API Gateway (REST, regional) writing each request straight into SQS: no Lambda in front."""

from __future__ import annotations

import json

from troposphere import GetAtt, Ref, Sub, Template
from troposphere.apigateway import (
    AccessLogSetting,
    Deployment,
    Integration,
    IntegrationResponse,
    Method,
    MethodResponse,
    MethodSetting,
    Resource,
    RestApi,
    Stage,
)
from troposphere.apigateway import EndpointConfiguration as ApiEndpointConfiguration
from troposphere.logs import LogGroup

from nami_action.compile import iam, mapping, names
from nami_action.config import Config, PipelineConfig
from nami_action.config.rules import throttle_limits

_ERROR_MESSAGE = "@error@"
# Access log variables (API Gateway "$context variables ... for access logging"): every value is
# quoted by this format, except $context.error.messageString, which API Gateway quotes and
# escapes itself ("The quoted value of $context.error.message"), so a message holding a quote
# still gives valid JSON. $context.requestId is left out: a client chooses it
# (x-amzn-RequestId), quotes included, which would break the line; extendedRequestId is API
# Gateway's own, and the id the envelope and the answer carry.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "time": "$context.requestTimeEpoch",
        "method": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
        "integrationStatus": "$context.integration.status",
        "latencyMs": "$context.responseLatency",
        "length": "$context.responseLength",
        "error": _ERROR_MESSAGE,
    },
    sort_keys=True,
).replace(json.dumps(_ERROR_MESSAGE), "$context.error.messageString")
INTEGRATION_URI = (
    "arn:${AWS::Partition}:apigateway:${AWS::Region}:sqs:path/${AWS::AccountId}/${QueueName}"
)


def add_ingress(template: Template, config: Config, pipeline: PipelineConfig) -> None:
    tags = names.cfn_tags(config, pipeline)
    template.add_resource(
        RestApi(
            names.REST_API,
            Name=pipeline.stack_name,
            Description=f"Nami ingress for {pipeline.stack_name}: POST {pipeline.path} -> SQS",
            EndpointConfiguration=ApiEndpointConfiguration(Types=["REGIONAL"]),
            # Every content type is binary, so $input.body is the base64 of the exact bytes.
            BinaryMediaTypes=mapping.BINARY_MEDIA_TYPES,
            Tags=tags,
        )
    )
    template.add_resource(
        iam.role(
            "ApiRole",
            service="apigateway.amazonaws.com",
            config=config,
            policy_name="send-to-queue",
            policy=iam.document(iam.statement(["sqs:SendMessage"], [GetAtt(names.QUEUE, "Arn")])),
            tags=tags,
        )
    )
    parent = _add_path(template, pipeline.path)
    method = template.add_resource(_method(pipeline, parent))
    _add_stage(template, config, pipeline, method)


def _add_path(template: Template, path: str) -> Ref | GetAtt:
    parent: Ref | GetAtt = GetAtt(names.REST_API, "RootResourceId")
    segments = names.path_segments(path)
    for depth in range(1, len(segments) + 1):
        logical_id = names.resource_logical_id(segments[:depth])
        template.add_resource(
            Resource(
                logical_id,
                RestApiId=Ref(names.REST_API),
                ParentId=parent,
                PathPart=segments[depth - 1],
            )
        )
        parent = Ref(logical_id)
    return parent


def _method(pipeline: PipelineConfig, parent: Ref | GetAtt) -> Method:
    queue = pipeline.spec.queue
    return Method(
        "ApiPostMethod",
        RestApiId=Ref(names.REST_API),
        ResourceId=parent,
        HttpMethod="POST",
        # Senders authenticate by signature (checked by the consumer), not by AWS credentials.
        AuthorizationType="NONE",
        Integration=Integration(
            Type=mapping.INTEGRATION_TYPE,
            IntegrationHttpMethod=mapping.INTEGRATION_HTTP_METHOD,
            Uri=Sub(INTEGRATION_URI, QueueName=GetAtt(names.QUEUE, "QueueName")),
            Credentials=GetAtt("ApiRole", "Arn"),
            PassthroughBehavior=mapping.PASSTHROUGH_BEHAVIOR,
            ContentHandling=mapping.CONTENT_HANDLING,
            RequestParameters=mapping.INTEGRATION_REQUEST_PARAMETERS,
            RequestTemplates=mapping.request_templates(fifo=queue.fifo, group_by=queue.group_by),
            IntegrationResponses=[
                IntegrationResponse(**r) for r in mapping.integration_responses()
            ],
        ),
        MethodResponses=[MethodResponse(**r) for r in mapping.method_responses()],
    )


def _add_stage(
    template: Template, config: Config, pipeline: PipelineConfig, method: Method
) -> None:
    # A Deployment is a snapshot: a new logical id (hash of the method) makes CloudFormation
    # create a fresh one whenever the integration changes, so the stage serves the change.
    snapshot = names.short_hash(
        json.dumps(
            [
                pipeline.path,
                mapping.request_templates(
                    fifo=pipeline.spec.queue.fifo, group_by=pipeline.spec.queue.group_by
                ),
                mapping.integration_responses(),
                mapping.method_responses(),
                mapping.INTEGRATION_REQUEST_PARAMETERS,
                INTEGRATION_URI,
                # Everything else the deployed API snapshot serves:
                mapping.BINARY_MEDIA_TYPES,
                mapping.CONTENT_HANDLING,
                mapping.PASSTHROUGH_BEHAVIOR,
                mapping.INTEGRATION_TYPE,
            ],
            sort_keys=True,
        )
    )
    # Named to sort after ApiPostMethod: the emulator creates resources in template order and
    # ignores DependsOn, and a deployment of an API without methods fails. AWS follows DependsOn.
    deployment_id = f"ApiRelease{snapshot.upper()}"
    template.add_resource(
        Deployment(
            deployment_id,
            RestApiId=Ref(names.REST_API),
            Description=f"nami {snapshot}",
            DependsOn=[method.title],
        )
    )
    access_logs = template.add_resource(
        names.disposable(
            LogGroup(
                "ApiAccessLogs",
                RetentionInDays=names.LOG_RETENTION_DAYS,
                Tags=names.cfn_tags(config, pipeline),
            )
        )
    )
    rate, burst = throttle_limits(pipeline.spec)
    template.add_resource(
        Stage(
            names.STAGE,
            RestApiId=Ref(names.REST_API),
            StageName=names.STAGE_NAME,
            DeploymentId=Ref(deployment_id),
            MethodSettings=[
                MethodSetting(
                    ResourcePath="/*",
                    HttpMethod="*",
                    ThrottlingRateLimit=rate,
                    ThrottlingBurstLimit=burst,
                    MetricsEnabled=True,
                )
            ],
            AccessLogSetting=AccessLogSetting(
                DestinationArn=GetAtt(access_logs, "Arn"), Format=ACCESS_LOG_FORMAT
            ),
            Tags=names.cfn_tags(config, pipeline),
        )
    )
