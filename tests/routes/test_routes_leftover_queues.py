"""Queues outlive their stack (RetainExceptOnCreate): a new stack cannot make a queue whose
name is taken. The plan of a routes pipeline's create names a route's leftover queue as it
names the pipeline's own, with what it still holds; so does the plan of an update that adds
back a route whose queues were kept when it was removed (moto server)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nami_action.apply import DeployOptions, deploy
from nami_action.aws.session import Aws
from nami_action.config import load_config
from nami_action.plan.planner import PlanOptions, make_plan
from tests.routes.test_routes_emulator import BUCKET
from tests.stand_in import FAST

pytestmark = pytest.mark.emulator


def emulated_project(aws: Aws, routes_project: Callable[..., Path]) -> Path:
    path = routes_project("https://app.example.com")
    path.write_text(
        path.read_text().replace(
            "project: rttest\n",
            f"project: rttest\nregion: us-east-1\nartifacts: {{bucket: {BUCKET}}}\n",
        )
    )
    aws.client("s3").create_bucket(Bucket=BUCKET)
    return path


def test_a_routes_leftover_queue_is_reported_before_the_create(
    aws: Aws, routes_project: Callable[..., Path]
) -> None:
    path = emulated_project(aws, routes_project)
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


def deployed(aws: Aws, path: Path, *, force: bool = False) -> str:
    run = make_plan(load_config(path), aws, PlanOptions(keep_change_sets=True, poll_seconds=FAST))
    options = DeployOptions(poll_seconds=FAST, force=force)
    (result,) = deploy(aws, run, options, lambda event: None).pipelines
    return result.outcome


def test_adding_back_a_removed_route_names_its_kept_queue_before_the_update(
    aws: Aws, routes_project: Callable[..., Path]
) -> None:
    """A removed route's queues are kept (RetainExceptOnCreate); adding the route back is an
    update whose change set would create them again, and fail on the taken names."""
    path = emulated_project(aws, routes_project)
    written = path.read_text()
    crm = next(line for line in written.splitlines(keepends=True) if line.startswith("      crm:"))
    assert deployed(aws, path) == "created"
    path.write_text(written.replace(crm, ""))
    assert deployed(aws, path, force=True) == "updated"  # removing a queue asks for --force
    sqs = aws.client("sqs")
    # AWS keeps the removed route's queues (RetainExceptOnCreate: https://docs.aws.amazon.com/
    # AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html); moto's
    # CloudFormation deletes them, so the test keeps them as AWS would.
    kept = sqs.create_queue(QueueName="rttest-stripe_crm")["QueueUrl"]
    sqs.send_message(QueueUrl=kept, MessageBody="{}")
    sqs.create_queue(QueueName="rttest-stripe_crm-dlq")
    path.write_text(written)

    (stripe,) = make_plan(load_config(path), aws, PlanOptions(poll_seconds=FAST)).plan.pipelines

    assert stripe.action == "update"
    assert stripe.error == (
        "queues rttest-stripe_crm (1 webhooks) and rttest-stripe_crm-dlq (0 webhooks) already "
        "exist, kept from a route removed from this pipeline earlier: redrive or export what "
        "they hold, delete them, then deploy again"
    ), stripe.error
