"""`ingress: http`: an API Gateway HTTP API writing each request straight into SQS.

The first-class SQS-SendMessage integration (no Lambda in front, $1.00 per million requests
against the REST API's $3.50). Its MessageBody is built by parameter mapping, which can only
substitute values verbatim, so it writes envelope version 2 (runtime/textenvelope.py): the
body as text and the headers verification needs, named one by one.
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-aws-services-reference.html
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html
"""

from __future__ import annotations

import json
from typing import Any

from troposphere import GetAtt, Join, Ref, Template
from troposphere.apigatewayv2 import (
    AccessLogSettings,
    Api,
    Integration,
    ResponseParameter,
    ResponseParameterMap,
    Route,
    RouteSettings,
    Stage,
)
from troposphere.logs import LogGroup

from nami_action.compile import iam, names
from nami_action.config import Config, PipelineConfig
from nami_action.config.models import Pipeline
from nami_action.config.rules import throttle_limits
from nami_action.runtime.textenvelope import format_text_envelope

# What this kind relies on is partly undocumented (a missing header in a mapping, newlines in a
# mapping value, `${request.body}` of a binary body): until `make aws-smoke` has passed against a
# real account with an http pipeline, the plan and the manual say so. Set True in the commit
# that records that run (docs/aws-smoke.md).
VERIFIED_ON_AWS = False

INTEGRATION = "HttpApiQueueIntegration"
ROUTE = "HttpApiPostRoute"
ROLE = "HttpApiRole"
STAGE = "HttpApiStage"
ACCESS_LOGS = "HttpApiAccessLogs"

# The headers each scheme's verifier reads (runtime/verify.py) and the provider's own event and
# delivery ids, which that provider sends with every delivery; nothing else. What API Gateway
# does with a mapped header the request lacks is not documented (the parameter-mapping page
# says nothing; a public report shows "Unable to resolve property ... from source" failures),
# so no header a sender may leave out (Content-Type, User-Agent) is mapped: each one more is
# one more way to answer 500 to a webhook forever. `dedupe.header` is the one the user chose.
# tests/compile/test_ingress_http.py proves, with the runtime's own verify(), that every scheme
# still verifies from these alone; `make aws-smoke` sends a request without a mapped header.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html
SCHEME_HEADERS: dict[str, tuple[str, ...]] = {
    "none": (),
    "github": ("x-hub-signature-256", "x-github-event", "x-github-delivery"),
    "stripe": ("stripe-signature",),
    "shopify": ("x-shopify-hmac-sha256", "x-shopify-topic", "x-shopify-webhook-id"),
    "slack": ("x-slack-signature", "x-slack-request-timestamp"),
    "standard-webhooks": ("webhook-id", "webhook-timestamp", "webhook-signature"),
    # Svix-based senders (Clerk, Resend, ...) send only these; mapping both sets would make
    # every request lack three mapped headers (the undocumented case above).
    "svix": ("svix-id", "svix-timestamp", "svix-signature"),
    "sns": (),  # the signature and the topic are in the body
}
# The context variables of an HTTP API. The id is $context.extendedRequestId: the REST API's
# $context.requestId can be set by the client (x-amzn-RequestId), and the HTTP API's page does
# not say whether its own can; the extended id is API Gateway's alone. It is also the FIFO
# deduplication id, so two requests are never merged into one message by a chosen header.
# requestTimeEpoch is in milliseconds.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
ENVELOPE_FIELDS = {
    "id": "${context.extendedRequestId}",
    "receivedAt": "${context.requestTimeEpoch}",
    "sourceIp": "${context.identity.sourceIp}",
    "method": "${context.httpMethod}",
    "path": "${context.path}",
}
BODY = "${request.body}"
# An HTTP API answers with the status of the AWS call. SQS refuses a message with 400 (too
# large, characters SQS does not allow, queue gone), 403 (access denied) or 404; each becomes
# 500 so the sender retries instead of believing a webhook that was never stored. SQS's own
# 5xx pass through as 5xx. A stored message answers 202, as the REST kind does.
# Response parameter mapping changes the status code and headers only, never the body, and
# cannot touch x-amz-*/x-amzn-* headers (reserved); HTTP APIs have no gateway responses. So
# SQS's error text reaches the sender, unlike the REST kind's static answers. What it can hold
# is kept small by construction: the queues use SSE-SQS, not a KMS key (no KMS error names a
# key ARN), and the role may send to this queue only, so the usual refusals (too large,
# characters SQS does not allow, throttled, SQS failing) say nothing about the account. An
# access-denied text names the account id, the role and the queue; it needs a deny from
# outside this template (an SCP, an edited role or boundary, IAM still propagating a changed
# policy during a deploy). The manual says so (docs/what-a-pipeline-becomes.md), the plan
# notes it, `make aws-smoke` reports it; for senders that must learn nothing, `rest` or
# `function-url`.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html#http-api-mapping-response-parameters
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html#http-api-mapping-reserved-headers
STORED_STATUS = "202"
REFUSED_STATUS = "500"
SQS_REFUSALS = ("400", "403", "404")
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "time": "$context.requestTimeEpoch",
        "method": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
        "integrationStatus": "$context.integrationStatus",
        "latencyMs": "$context.responseLatency",
        "length": "$context.responseLength",
    },
    sort_keys=True,
)


def carried_headers(spec: Pipeline) -> tuple[str, ...]:
    """The request headers the envelope carries, lower-case, in a stable order."""
    wanted = list(SCHEME_HEADERS.get(spec.verify.scheme, ()))
    if spec.dedupe is not None and spec.dedupe.header:
        wanted.append(spec.dedupe.header.lower())
    return tuple(dict.fromkeys(wanted))


def message_body(spec: Pipeline) -> str:
    """The MessageBody mapping: envelope v2 with `${...}` references for API Gateway to fill."""
    headers = [(name, f"${{request.header.{name}}}") for name in carried_headers(spec)]
    return format_text_envelope(ENVELOPE_FIELDS, headers, BODY)


def request_parameters(spec: Pipeline) -> dict[str, object]:
    parameters: dict[str, object] = {
        "QueueUrl": Ref(names.QUEUE),
        "MessageBody": message_body(spec),
    }
    if spec.queue.fifo:
        # One group per pipeline (rules.py refuses group_by with `http`); the extended request
        # id (no client header sets it) makes every request its own message.
        parameters["MessageGroupId"] = "nami"
        parameters["MessageDeduplicationId"] = ENVELOPE_FIELDS["id"]
    return parameters


def response_parameters() -> dict[str, ResponseParameterMap]:
    def overwrite(status: str) -> ResponseParameterMap:
        return ResponseParameterMap(
            ResponseParameters=[
                ResponseParameter(Destination="overwrite:statuscode", Source=status)
            ]
        )

    answers = {"200": overwrite(STORED_STATUS)}
    answers.update({code: overwrite(REFUSED_STATUS) for code in SQS_REFUSALS})
    return answers


def add_http_ingress(template: Template, config: Config, pipeline: PipelineConfig) -> None:
    tags = names.resource_tags(config, pipeline)
    spec = pipeline.spec
    template.add_resource(
        Api(
            names.HTTP_API,
            Name=pipeline.stack_name,
            Description=f"Nami ingress for {pipeline.stack_name}: POST {pipeline.path} -> SQS",
            ProtocolType="HTTP",
            Tags=tags,
        )
    )
    template.add_resource(
        iam.role(
            ROLE,
            service="apigateway.amazonaws.com",
            config=config,
            policy_name="send-to-queue",
            policy=iam.document(iam.statement(["sqs:SendMessage"], [GetAtt(names.QUEUE, "Arn")])),
            tags=names.cfn_tags(config, pipeline),
        )
    )
    template.add_resource(
        Integration(
            INTEGRATION,
            ApiId=Ref(names.HTTP_API),
            IntegrationType="AWS_PROXY",
            IntegrationSubtype="SQS-SendMessage",
            PayloadFormatVersion="1.0",
            CredentialsArn=GetAtt(ROLE, "Arn"),
            RequestParameters=request_parameters(spec),
            ResponseParameters=response_parameters(),
        )
    )
    template.add_resource(
        Route(
            ROUTE,
            ApiId=Ref(names.HTTP_API),
            RouteKey=f"POST {pipeline.path}",
            # Senders authenticate by signature (checked by the consumer), not by AWS.
            AuthorizationType="NONE",
            Target=Join("/", ["integrations", Ref(INTEGRATION)]),
        )
    )
    _add_stage(template, config, pipeline)


def _add_stage(template: Template, config: Config, pipeline: PipelineConfig) -> None:
    access_logs = template.add_resource(
        names.disposable(
            LogGroup(
                ACCESS_LOGS,
                RetentionInDays=names.LOG_RETENTION_DAYS,
                Tags=names.cfn_tags(config, pipeline),
            )
        )
    )
    rate, burst = throttle_limits(pipeline.spec)
    template.add_resource(
        Stage(
            STAGE,
            ApiId=Ref(names.HTTP_API),
            StageName=names.STAGE_NAME,
            # An HTTP API stage can deploy itself on every change: no Deployment snapshots.
            AutoDeploy=True,
            DefaultRouteSettings=RouteSettings(
                ThrottlingRateLimit=rate,
                ThrottlingBurstLimit=burst,
                DetailedMetricsEnabled=False,
            ),
            AccessLogSettings=AccessLogSettings(
                DestinationArn=GetAtt(access_logs, "Arn"), Format=ACCESS_LOG_FORMAT
            ),
            Tags=names.resource_tags(config, pipeline),
        )
    )


# An HTTP API publishes per API id and stage, and names its error counts 4xx and 5xx where a
# REST API (per API name and stage) says 4XXError and 5XXError; a function URL publishes under
# AWS/Lambda per function.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html
# https://docs.aws.amazon.com/lambda/latest/dg/urls-monitoring.html
HTTP_METRIC_NAMES = {"Count": "Count", "4XXError": "4xx", "5XXError": "5xx"}
URL_METRIC_NAMES = {
    "Count": "UrlRequestCount",
    "4XXError": "Url4xxCount",
    "5XXError": "Url5xxCount",
}
INGEST_FUNCTION = names.INGEST_FUNCTION


def api_metric(
    pipeline: PipelineConfig,
    metric: str,
    *,
    in_sub: bool = False,
    physical: dict[str, str] | None = None,
) -> tuple[str, str, list[tuple[str, Any]]]:
    """(namespace, metric name, dimensions) of the ingress metric a REST API calls `metric`;
    `in_sub`: ids as `${LogicalId}` for a Fn::Sub body (the dashboard) instead of Refs;
    `physical`: a deployed stack's resources (logical -> physical id), for reading the metric."""

    def ref(logical_id: str) -> Any:
        if physical is not None:
            return physical.get(logical_id, "")
        return f"${{{logical_id}}}" if in_sub else Ref(logical_id)

    stage = ("Stage", names.STAGE_NAME)
    if pipeline.spec.ingress == "function-url":
        return "AWS/Lambda", URL_METRIC_NAMES[metric], [("FunctionName", ref(INGEST_FUNCTION))]
    if pipeline.spec.ingress == "http":
        return "AWS/ApiGateway", HTTP_METRIC_NAMES[metric], [("ApiId", ref(names.HTTP_API)), stage]
    return "AWS/ApiGateway", metric, [("ApiName", pipeline.stack_name), stage]
