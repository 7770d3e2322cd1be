"""Alarms on the dead-letter queue, the backlog, refused webhooks, the consumer function and the
endpoint, into one SNS topic per pipeline (and an existing topic, when `alarms.topic` names one).

Every alarm notifies on ALARM and back on OK. Metrics and dimensions:
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Ref, Template
from troposphere.cloudwatch import Alarm, Metric, MetricDataQuery, MetricDimension, MetricStat
from troposphere.sns import SubscriptionResource, Topic

from nami_action.compile import names
from nami_action.compile.ingress_http import api_metric
from nami_action.config import Config, PipelineConfig

TOPIC = "AlarmTopic"
REJECTED_ALARM = "RejectedAlarm"
REFUSED_ALARM = "RefusedAlarm"
# The runtime's Embedded Metric Format line: one per batch, counts per outcome.
METRIC_NAMESPACE = "Nami"
PIPELINE_DIMENSION = "Pipeline"
PERIOD_SECONDS = 60
# Error rates at the endpoint: over 5 minutes, and only once this many requests came in, so a
# single 404 from a port scanner on a quiet endpoint does not page anyone.
RATE_PERIOD_SECONDS = 300
RATE_MIN_REQUESTS = 10
SECRETS_MANAGER = "secretsmanager:"


def add_alarms(template: Template, config: Config, pipeline: PipelineConfig) -> None:
    spec = pipeline.spec
    alarms = spec.alarms
    # Not encrypted with the AWS-managed aws/sns key: CloudWatch cannot publish to a topic
    # under that key. Alarm notifications carry metric names only, no webhook data.
    template.add_resource(
        Topic(
            TOPIC, DisplayName=f"Nami {pipeline.stack_name}", Tags=names.cfn_tags(config, pipeline)
        )
    )
    for email in alarms.email:
        template.add_resource(_subscription("AlarmEmail", "email", email, email))
    for endpoint in alarms.https:
        template.add_resource(
            _subscription("AlarmHttps", "https", endpoint, endpoint_value(endpoint))
        )
    targets: list[Any] = [Ref(TOPIC)]
    if alarms.topic:
        targets.append(alarms.topic)
    add_consumer_alarms(template, pipeline, targets)
    stack = pipeline.stack_name
    template.add_resource(_rejected_alarm(stack, alarms.rejected, targets))
    if alarms.ingress_5xx is not False:
        template.add_resource(
            _ingress_rate_alarm(
                "Ingress5xxAlarm",
                "5XXError",
                alarms.ingress_5xx,
                f"{stack}: the endpoint answered 5xx (webhooks not stored; senders retry)",
                pipeline,
                targets,
            )
        )
    if alarms.ingress_4xx is not False:
        template.add_resource(
            _ingress_rate_alarm(
                "Ingress4xxAlarm",
                "4XXError",
                alarms.ingress_4xx,
                f"{stack}: the endpoint answered 4xx (429 throttled, 413 too large, wrong path)",
                pipeline,
                targets,
            )
        )


def add_consumer_alarms(template: Template, pipeline: PipelineConfig, targets: list[Any]) -> None:
    """The alarms on a queue and its consumer: a pipeline's, or each route's (config/routes)."""
    spec = pipeline.spec
    alarms = spec.alarms
    stack = pipeline.stack_name
    template.add_resource(
        _queue_alarm(
            "DeadLetterAlarm",
            names.DEAD_LETTER_QUEUE,
            "ApproximateNumberOfMessagesVisible",
            spec.dead_letter.alarm_threshold,
            f"{stack}: webhooks are waiting in the dead-letter queue",
            targets,
        )
    )
    template.add_resource(
        _queue_alarm(
            "BacklogAgeAlarm",
            names.QUEUE,
            "ApproximateAgeOfOldestMessage",
            alarms.backlog_age,
            f"{stack}: the oldest webhook has waited longer than {alarms.backlog_age}s",
            targets,
        )
    )
    if spec.forward is not None:
        template.add_resource(_refused_alarm(stack, alarms.rejected, targets))
    if alarms.errors is not False:
        template.add_resource(
            _function_alarm(
                "ConsumerErrorsAlarm",
                "Errors",
                alarms.errors,
                f"{stack}: consumer invocations failed (crash, timeout or cannot start); "
                "their batches are retried",
                targets,
            )
        )
    if alarms.throttles is not False:
        template.add_resource(
            _function_alarm(
                "ConsumerThrottlesAlarm",
                "Throttles",
                alarms.throttles,
                f"{stack}: Lambda throttled the consumer; throttled batches use up receives",
                targets,
            )
        )


def endpoint_value(endpoint: str) -> str:
    """An HTTPS alarm endpoint as the template holds it: a `secretsmanager:` reference becomes
    a CloudFormation dynamic reference, resolved at deploy, so the URL (and its key) is never in
    the template. Secrets Manager references resolve in any resource property.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    if endpoint.startswith(SECRETS_MANAGER):
        return f"{{{{resolve:secretsmanager:{endpoint.removeprefix(SECRETS_MANAGER)}}}}}"
    return endpoint


def _subscription(prefix: str, protocol: str, key: str, endpoint: str) -> SubscriptionResource:
    return SubscriptionResource(
        f"{prefix}{names.short_hash(key).upper()}",
        TopicArn=Ref(TOPIC),
        Protocol=protocol,
        Endpoint=endpoint,
    )


def _query(
    query_id: str, namespace: str, metric: str, dimensions: list[tuple[str, Any]], period: int
) -> MetricDataQuery:
    """One metric read for a metric-math alarm (summed over `period`, not itself returned)."""
    return MetricDataQuery(
        Id=query_id,
        MetricStat=MetricStat(
            Metric=Metric(
                Namespace=namespace,
                MetricName=metric,
                Dimensions=[MetricDimension(Name=k, Value=v) for k, v in dimensions],
            ),
            Period=period,
            Stat="Sum",
        ),
        ReturnData=False,
    )


def _notifying_alarm(
    title: str, text: str, threshold: float, targets: list[Any], **metric: Any
) -> Alarm:
    """What every alarm shares: one period over the threshold alarms, no data is fine, and
    the targets hear of ALARM and of OK. `metric` is the single metric or the metric math."""
    return Alarm(
        title,
        AlarmDescription=text,
        EvaluationPeriods=1,
        Threshold=float(threshold),
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=targets,
        OKActions=targets,
        **metric,
    )


def _outcome_query(query_id: str, metric: str, stack_name: str) -> MetricDataQuery:
    dimensions = [(PIPELINE_DIMENSION, stack_name)]
    return _query(query_id, METRIC_NAMESPACE, metric, dimensions, PERIOD_SECONDS)


def _rejected_alarm(stack_name: str, threshold: int, targets: list[Any]) -> Alarm:
    """Webhooks the runtime moved to the DLQ because they failed verification or could not
    be decoded: acknowledged to the sender, never handled, so someone has to look."""
    return _notifying_alarm(
        REJECTED_ALARM,
        f"{stack_name}: webhooks were rejected (signature) or malformed "
        "(envelope) and moved to the dead-letter queue",
        threshold,
        targets,
        Metrics=[
            _outcome_query("rejected", "Rejected", stack_name),
            _outcome_query("malformed", "Malformed", stack_name),
            # FILL: a minute with only one of the two counts still adds up.
            MetricDataQuery(
                Id="refused",
                Expression="FILL(rejected, 0) + FILL(malformed, 0)",
                Label="Rejected + Malformed",
                ReturnData=True,
            ),
        ],
    )


def _refused_alarm(stack_name: str, threshold: int, targets: list[Any]) -> Alarm:
    """`forward:` webhooks the destination refused for good (a 4xx but 408/429), moved to
    the DLQ with its answer: someone fixes the destination, then redrives them."""
    return _notifying_alarm(
        REFUSED_ALARM,
        f"{stack_name}: the forward destination refused webhooks (4xx); they are in the "
        "dead-letter queue with its answer",
        threshold,
        targets,
        **_single_metric(METRIC_NAMESPACE, "Refused", (PIPELINE_DIMENSION, stack_name), "Sum"),
    )


def _single_metric(
    namespace: str, metric: str, dimension: tuple[str, Any], statistic: str
) -> dict[str, Any]:
    return {
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": [MetricDimension(Name=dimension[0], Value=dimension[1])],
        "Statistic": statistic,
        "Period": PERIOD_SECONDS,
    }


def _queue_alarm(
    title: str, queue: str, metric: str, threshold: int, text: str, targets: list[Any]
) -> Alarm:
    dimension = ("QueueName", GetAtt(queue, "QueueName"))
    return _notifying_alarm(
        title, text, threshold, targets, **_single_metric("AWS/SQS", metric, dimension, "Maximum")
    )


def _function_alarm(
    title: str, metric: str, threshold: int, text: str, targets: list[Any]
) -> Alarm:
    dimension = ("FunctionName", Ref(names.FUNCTION))
    return _notifying_alarm(
        title, text, threshold, targets, **_single_metric("AWS/Lambda", metric, dimension, "Sum")
    )


def _api_query(query_id: str, metric: str, pipeline: PipelineConfig) -> MetricDataQuery:
    """API Gateway's metric per API and stage (compile/ingress_http.api_metric names it per
    ingress kind); 429s from stage throttling count in the 4xx metric."""
    namespace, name, dimensions = api_metric(pipeline, metric)
    return _query(query_id, namespace, name, dimensions, RATE_PERIOD_SECONDS)


def _ingress_rate_alarm(
    title: str,
    metric: str,
    percent: float,
    text: str,
    pipeline: PipelineConfig,
    targets: list[Any],
) -> Alarm:
    return _notifying_alarm(
        title,
        f"{text}: at least {percent:g}% of requests over 5 minutes",
        percent,
        targets,
        Metrics=[
            _api_query("errors", metric, pipeline),
            _api_query("requests", "Count", pipeline),
            MetricDataQuery(
                Id="rate",
                Expression=f"IF(FILL(requests, 0) >= {RATE_MIN_REQUESTS}, "
                "100 * FILL(errors, 0) / FILL(requests, 1), 0)",
                Label=f"{metric} % of requests",
                ReturnData=True,
            ),
        ],
    )
