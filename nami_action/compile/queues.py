"""The queue that holds webhooks and the dead-letter queue behind it."""

from __future__ import annotations

from troposphere import GetAtt, Sub, Template
from troposphere.sqs import Queue, RedrivePolicy

from nami_action.compile import names
from nami_action.config import Config, PipelineConfig

# SQS's largest message, for the DLQ whatever the queue's size: the runtime moves a rejected
# webhook there with its reason as message attributes (runtime/deadletters.py), and SQS counts
# attributes in the message size, so a near-limit webhook would not fit a DLQ of the queue's size.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
DEAD_LETTER_MAX_MESSAGE_SIZE = 1024 * 1024


def add_queues(template: Template, config: Config, pipeline: PipelineConfig) -> None:
    spec = pipeline.spec
    fifo = {"FifoQueue": True} if spec.queue.fifo else {}
    source_arn = Sub(
        "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:" + names.queue_name(pipeline)
    )
    dead_letter = Queue(
        names.DEAD_LETTER_QUEUE,
        QueueName=names.dead_letter_queue_name(pipeline),
        MessageRetentionPeriod=spec.dead_letter.retention,
        MaximumMessageSize=DEAD_LETTER_MAX_MESSAGE_SIZE,
        SqsManagedSseEnabled=True,
        RedriveAllowPolicy={"redrivePermission": "byQueue", "sourceQueueArns": [source_arn]},
        Tags=names.cfn_tags(config, pipeline),
        **fifo,
    )
    queue = Queue(
        names.QUEUE,
        QueueName=names.queue_name(pipeline),
        MessageRetentionPeriod=spec.queue.retention,
        VisibilityTimeout=pipeline.visibility_timeout,
        MaximumMessageSize=spec.queue.max_message_size,
        SqsManagedSseEnabled=True,
        RedrivePolicy=RedrivePolicy(
            deadLetterTargetArn=GetAtt(names.DEAD_LETTER_QUEUE, "Arn"),
            maxReceiveCount=spec.queue.max_receive_count,
        ),
        Tags=names.cfn_tags(config, pipeline),
        **fifo,
    )
    for resource in (dead_letter, queue):
        # Stored webhooks outlive any change: a replaced or removed queue is kept, not deleted.
        # Except when the create that made it rolls back: it never held a webhook, and a kept
        # named queue would make every retry of the create fail with AlreadyExists.
        resource.DeletionPolicy = "RetainExceptOnCreate"
        resource.UpdateReplacePolicy = "Retain"
        template.add_resource(resource)
