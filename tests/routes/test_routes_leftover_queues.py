"""Queues outlive their stack (RetainExceptOnCreate): a new stack cannot make a queue whose
name is taken. The plan of a routes pipeline's create names a route's leftover queue as it
names the pipeline's own, with what it still holds (moto server)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nami_action.aws.session import Aws
from nami_action.config import load_config
from nami_action.plan.planner import PlanOptions, make_plan
from tests.routes.test_routes_emulator import BUCKET
from tests.stand_in import FAST

pytestmark = pytest.mark.emulator


def test_a_routes_leftover_queue_is_reported_before_the_create(
    aws: Aws, routes_project: Callable[..., Path]
) -> None:
    path = routes_project("https://app.example.com")
    path.write_text(
        path.read_text().replace(
            "project: rttest\n",
            f"project: rttest\nregion: us-east-1\nartifacts: {{bucket: {BUCKET}}}\n",
        )
    )
    aws.client("s3").create_bucket(Bucket=BUCKET)
    sqs = aws.client("sqs")
    crm = sqs.create_queue(QueueName="rttest-stripe_crm")["QueueUrl"]
    for body in ("{}", "{}"):
        sqs.send_message(QueueUrl=crm, MessageBody=body)
    sqs.create_queue(QueueName="rttest-stripe_billing-dlq")

    plan = make_plan(load_config(path), aws, PlanOptions(poll_seconds=FAST)).plan

    (stripe,) = plan.pipelines
    assert stripe.action == "create"
    assert stripe.error.startswith(
        "queues rttest-stripe_billing-dlq (0 webhooks) and rttest-stripe_crm (2 webhooks) "
        "already exist, kept from an earlier stack of this pipeline"
    ), stripe.error
    assert "rttest-stripe_audit" not in stripe.error  # only the queues that are there
