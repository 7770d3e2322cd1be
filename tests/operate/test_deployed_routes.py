"""A stack's routes read back from its queues (operate/pipelines.py `deployed_routes`), for a
pipeline nami.yaml no longer describes: the route's name is in its queue's name, which the
logical-id prefix alone would not give back (`crm-eu` and `crmEu` are both `RouteCrmEu`)."""

from __future__ import annotations

from nami_action.aws.stacks import StackResource
from nami_action.operate.pipelines import deployed_routes

URL = "https://sqs.us-east-1.amazonaws.com/123456789012/"
QUEUE = "AWS::SQS::Queue"


def test_routes_come_from_the_queues_under_a_route_prefix() -> None:
    resources = [
        StackResource("Queue", URL + "shop-stripe.fifo", QUEUE),
        StackResource("DeadLetterQueue", URL + "shop-stripe-dlq.fifo", QUEUE),
        StackResource("RouteCrmEuQueue", URL + "shop-stripe_crm-eu.fifo", QUEUE),
        StackResource("RouteCrmEuDeadLetterQueue", URL + "shop-stripe_crm-eu-dlq.fifo", QUEUE),
        StackResource("RouteBillingQueue", URL + "shop-stripe_billing.fifo", QUEUE),
        StackResource("RouteBillingConsumer", "shop-stripe_billing-fn", "AWS::Lambda::Function"),
        # Not a route's queue: a queue someone named with `_` under another logical id.
        StackResource("Spare", URL + "shop-stripe_spare", QUEUE),
    ]
    assert deployed_routes(resources) == ["billing", "crm-eu"]
    assert deployed_routes(resources[:2]) == []
