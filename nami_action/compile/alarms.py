"""Alarms on the dead-letter queue and on the backlog, into one SNS topic per pipeline."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Template
from troposphere.cloudwatch import Alarm, MetricDimension
from troposphere.sns import SubscriptionResource, Topic

from nami_action.compile import names
from nami_action.config import Config, PipelineConfig

TOPIC = "AlarmTopic"


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
