"""Alarms on the dead-letter queue, the backlog and refused webhooks, into one SNS topic per
pipeline."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Template
from troposphere.cloudwatch import Alarm, Metric, MetricDataQuery, MetricDimension, MetricStat
from troposphere.sns import SubscriptionResource, Topic

from nami_action.compile import names
from nami_action.config import Config, PipelineConfig

TOPIC = "AlarmTopic"
REJECTED_ALARM = "RejectedAlarm"
# The runtime's Embedded Metric Format line: one per batch, counts per outcome.
METRIC_NAMESPACE = "Nami"
PIPELINE_DIMENSION = "Pipeline"
PERIOD_SECONDS = 60


def add_alarms(template: Template, config: Config, pipeline: PipelineConfig) -> None:
    spec = pipeline.spec
    # Not encrypted with the AWS-managed aws/sns key: CloudWatch cannot publish to a topic
    # under that key. Alarm notifications carry metric names only, no webhook data.
    template.add_resource(
        Topic(
            TOPIC, DisplayName=f"Nami {pipeline.stack_name}", Tags=names.cfn_tags(config, pipeline)
        )
    )
    for email in spec.alarms.email:
        template.add_resource(
            SubscriptionResource(
                f"AlarmEmail{names.short_hash(email).upper()}",
                TopicArn=Ref(TOPIC),
                Protocol="email",
                Endpoint=email,
            )
        )
    template.add_resource(
        _queue_alarm(
            "DeadLetterAlarm",
            names.DEAD_LETTER_QUEUE,
            "ApproximateNumberOfMessagesVisible",
            spec.dead_letter.alarm_threshold,
            f"{pipeline.stack_name}: webhooks are waiting in the dead-letter queue",
        )
    )
    template.add_resource(
        _queue_alarm(
            "BacklogAgeAlarm",
            names.QUEUE,
            "ApproximateAgeOfOldestMessage",
            spec.alarms.backlog_age,
            f"{pipeline.stack_name}: the oldest webhook has waited longer than "
            f"{spec.alarms.backlog_age}s",
        )
    )
    template.add_resource(_rejected_alarm(pipeline.stack_name, spec.alarms.rejected))


def _outcome_query(query_id: str, metric: str, stack_name: str) -> MetricDataQuery:
    return MetricDataQuery(
        Id=query_id,
        MetricStat=MetricStat(
            Metric=Metric(
                Namespace=METRIC_NAMESPACE,
                MetricName=metric,
                Dimensions=[MetricDimension(Name=PIPELINE_DIMENSION, Value=stack_name)],
            ),
            Period=PERIOD_SECONDS,
            Stat="Sum",
        ),
        ReturnData=False,
    )


def _rejected_alarm(stack_name: str, threshold: int) -> Alarm:
    """Webhooks the runtime moved to the DLQ because they failed verification or could not
    be decoded: acknowledged to the sender, never handled, so someone has to look."""
    return Alarm(
        REJECTED_ALARM,
        AlarmDescription=f"{stack_name}: webhooks were rejected (signature) or malformed "
        "(envelope) and moved to the dead-letter queue",
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
        EvaluationPeriods=1,
        Threshold=float(threshold),
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[Ref(TOPIC)],
        OKActions=[Ref(TOPIC)],
    )


def _queue_alarm(title: str, queue: str, metric: str, threshold: int, text: str) -> Alarm:
    return Alarm(
        title,
        AlarmDescription=text,
        Namespace="AWS/SQS",
        MetricName=metric,
        Dimensions=[MetricDimension(Name="QueueName", Value=GetAtt(queue, "QueueName"))],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=float(threshold),
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[Ref(TOPIC)],
        OKActions=[Ref(TOPIC)],
    )
