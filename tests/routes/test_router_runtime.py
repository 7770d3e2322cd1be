"""The router against SQS on the moto server, without a deploy: a send that fails for one
route is put back for that route only; when the put-back fails too, the record is retried
whole and the log line says which routes may see it again."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from nami_action.aws.session import Aws
from nami_action.envelope import IncomingRequest, encode_envelope
from nami_action.runtime import router as router_module
from nami_action.runtime.config import RuntimeConfig
from nami_action.runtime.consumer import Consumer
from nami_action.runtime.deadletters import OUTCOME_ATTRIBUTE, SqsDeadLetters
from nami_action.runtime.router import ROUTES_ATTRIBUTE, Router, SqsSender, no_handler
from nami_action.runtime.routing import RouteTest

pytestmark = pytest.mark.emulator

ROUTES = (
    RouteTest("billing", json_path="$.type", test="prefix", value="invoice."),
    RouteTest("audit", header="X-Audit", test="exists", value=True),
)


def record(event_type: str, message_id: str = "m-1", body: bytes | None = None) -> dict[str, Any]:
    request = IncomingRequest(
        method="POST",
        path="/stripe",
        headers={"X-Audit": "1"},
        body=json.dumps({"type": event_type}).encode() if body is None else body,
        source_ip="203.0.113.9",
        request_id="req-1",
        received_at_ms=int(time.time() * 1000),
    )
    return {"messageId": message_id, "body": encode_envelope(request), "attributes": {}}


def router_consumer(
    aws: Aws, queues: dict[str, str], own: str, lines: list[str], dlq: str | None = None
) -> Consumer:
    sender = SqsSender(lambda: aws.client("sqs"))
    router = Router(ROUTES, queues, sender, own)
    config = RuntimeConfig(pipeline="stripe", mode="webhook", handler="h.h", routes=ROUTES)
    letters = None if dlq is None else SqsDeadLetters(dlq, lambda: aws.client("sqs"))
    return Consumer(
        config=config,
        function=no_handler,
        router=router,
        emit=lines.append,
        dead_letters=letters,
    )


def messages(aws: Aws, url: str) -> list[dict[str, Any]]:
    got = aws.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return list(got.get("Messages", []))


def test_a_failed_send_is_put_back_for_that_route_only(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = aws.client("sqs")
    inbox, billing = (sqs.create_queue(QueueName=n)["QueueUrl"] for n in ("in", "in_billing"))
    gone = inbox + "_audit"  # never created: SendMessage fails
    lines: list[str] = []
    consumer = router_consumer(aws, {"billing": billing, "audit": gone}, inbox, lines)

    result = consumer({"Records": [record("invoice.paid")]})

    assert result == {"batchItemFailures": []}  # done: nothing owed is lost
    assert len(messages(aws, billing)) == 1
    delayed = sqs.get_queue_attributes(
        QueueUrl=inbox, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert delayed["ApproximateNumberOfMessagesDelayed"] == "1"  # REQUEUE_DELAY: 30 s
    monkeypatch.setattr(router_module, "REQUEUE_DELAY", 0)
    consumer({"Records": [record("invoice.created")]})
    (copy,) = messages(aws, inbox)
    assert copy["MessageAttributes"][ROUTES_ATTRIBUTE]["StringValue"] == "audit"
    line = json.loads(lines[0])
    assert (line["outcome"], line["routes"], line["reason"]) == (
        "routed",
        ["billing"],
        "put back for audit",
    )
    assert line["error"].startswith("route audit: ")


def test_when_the_put_back_fails_too_the_record_is_retried_whole(aws: Aws) -> None:
    sqs = aws.client("sqs")
    billing = sqs.create_queue(QueueName="in_billing")["QueueUrl"]
    gone = billing.removesuffix("in_billing") + "nothing"
    lines: list[str] = []
    consumer = router_consumer(aws, {"billing": billing, "audit": gone}, gone, lines)

    result = consumer({"Records": [record("invoice.paid")]})

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    line = json.loads(lines[0])
    assert line["outcome"] == "failed"
    assert line["reason"] == "not routed to audit; billing got it and may see it again"
    assert "not put back" in line["error"]
    metrics = json.loads(lines[-1])
    assert (metrics["Failed"], metrics["Routed"]) == (1, 0)


def test_a_put_back_copy_goes_only_to_the_routes_it_owes(aws: Aws) -> None:
    sqs = aws.client("sqs")
    inbox, billing, audit = (
        sqs.create_queue(QueueName=n)["QueueUrl"] for n in ("in", "in_billing", "in_audit")
    )
    lines: list[str] = []
    consumer = router_consumer(aws, {"billing": billing, "audit": audit}, inbox, lines)
    owed = record("invoice.paid")
    owed["messageAttributes"] = {ROUTES_ATTRIBUTE: {"stringValue": "audit", "dataType": "String"}}

    assert consumer({"Records": [owed]}) == {"batchItemFailures": []}
    assert len(messages(aws, audit)) == 1
    assert messages(aws, billing) == []  # it had it already


def test_a_copy_owing_a_removed_route_says_so_where_it_goes_to_the_others(aws: Aws) -> None:
    sqs = aws.client("sqs")
    inbox, billing, audit = (
        sqs.create_queue(QueueName=n)["QueueUrl"] for n in ("in", "in_billing", "in_audit")
    )
    lines: list[str] = []
    consumer = router_consumer(aws, {"billing": billing, "audit": audit}, inbox, lines)
    owed = record("invoice.paid")
    attribute = {"stringValue": "audit,ledger", "dataType": "String"}  # ledger: removed since
    owed["messageAttributes"] = {ROUTES_ATTRIBUTE: attribute}

    assert consumer({"Records": [owed]}) == {"batchItemFailures": []}
    assert len(messages(aws, audit)) == 1
    line = json.loads(lines[0])
    assert (line["outcome"], line["routes"]) == ("routed", ["audit"])
    assert line["reason"] == "owed to ledger, no longer among this pipeline's routes"


def test_a_copy_too_large_to_put_back_is_kept_in_the_dead_letter_queue_with_its_routes(
    aws: Aws,
) -> None:
    """On AWS the put-back copy of a webhook near the queue's maximum size is too large: SQS
    counts message attributes (`nami-routes`) in it. moto counts the body only, so here the
    router's own queue is made smaller than the body to refuse the put-back the same way.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"""
    sqs = aws.client("sqs")
    small = {"MaximumMessageSize": "1024"}
    inbox = sqs.create_queue(QueueName="in", Attributes=small)["QueueUrl"]
    billing, dlq = (sqs.create_queue(QueueName=n)["QueueUrl"] for n in ("in_billing", "in-dlq"))
    lines: list[str] = []
    queues = {"billing": billing, "audit": inbox + "_audit"}  # audit's: never created
    consumer = router_consumer(aws, queues, inbox, lines, dlq)
    large = record("", body=json.dumps({"type": "invoice.paid", "pad": "x" * 1200}).encode())

    assert consumer({"Records": [large]}) == {"batchItemFailures": []}  # done: not retried
    assert len(messages(aws, billing)) == 1
    (letter,) = messages(aws, dlq)
    assert letter["Body"] == large["body"]
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes[ROUTES_ATTRIBUTE] == "audit"
    assert attributes[OUTCOME_ATTRIBUTE] == "failed"
    line = json.loads(lines[0])
    assert (line["outcome"], line["routes"]) == ("routed", ["billing"])
    assert line["reason"] == (
        "not put back for audit: a copy owing them moved to the dead-letter queue"
    )
    assert "InvalidParameterValue" in line["error"]
    assert json.loads(lines[-1])["Routed"] == 1


def test_a_body_nested_too_deep_to_parse_is_not_json_and_its_batch_mates_go_once(
    aws: Aws,
) -> None:
    sqs = aws.client("sqs")
    inbox, billing, audit = (
        sqs.create_queue(QueueName=n)["QueueUrl"] for n in ("in", "in_billing", "in_audit")
    )
    lines: list[str] = []
    consumer = router_consumer(aws, {"billing": billing, "audit": audit}, inbox, lines)
    batch = [
        record("invoice.paid", "m-1"),
        record("", "m-2", body=b"[" * 100_000),  # json.loads raises RecursionError
        record("invoice.created", "m-3"),
    ]

    assert consumer({"Records": batch}) == {"batchItemFailures": []}
    assert len(messages(aws, billing)) == 2  # m-1 and m-3, once each
    assert len(messages(aws, audit)) == 3  # its header test still holds for m-2
    outcomes = [json.loads(line).get("outcome") for line in lines[:3]]
    assert outcomes == ["routed", "routed", "routed"]


class FaultyRouter(Router):
    """A router with a bug that shows on one webhook only (its body reads `boom`)."""

    def choose(self, record: dict[str, Any], webhook: Any) -> list[str]:  # type: ignore[override]
        if webhook.body == b"boom":
            raise RuntimeError("a bug in the router")
        return super().choose(record, webhook)


def test_an_unexpected_router_error_fails_only_its_record(aws: Aws) -> None:
    sqs = aws.client("sqs")
    inbox, billing, audit = (
        sqs.create_queue(QueueName=n)["QueueUrl"] for n in ("in", "in_billing", "in_audit")
    )
    lines: list[str] = []
    sender = SqsSender(lambda: aws.client("sqs"))
    router = FaultyRouter(ROUTES, {"billing": billing, "audit": audit}, sender, inbox)
    config = RuntimeConfig(pipeline="stripe", mode="webhook", handler="h.h", routes=ROUTES)
    consumer = Consumer(config=config, function=no_handler, router=router, emit=lines.append)
    batch = [record("invoice.paid", "m-1"), record("", "m-2", body=b"boom")]

    assert consumer({"Records": batch}) == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert len(messages(aws, billing)) == 1
    assert "a bug in the router" in json.loads(lines[1])["error"]
