"""`routes:` deployed on the moto server, the router run by the Lambda entry point with the
deployed function's own environment (NAMI_CONFIG, the routes' queue URLs): each webhook lands
in the queues of the routes it matches, once; unrouted in the pipeline's DLQ with its reason;
a route whose queue refuses the send gets the webhook later, the others exactly once.

moto does not run Lambda code, so `route_batch` plays the event source mapping: receive,
invoke the handler with the SQS event (message attributes as Lambda shapes them), delete what
batchItemFailures does not name.
https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.aws.session import Aws
from nami_action.cli import cli
from nami_action.compile import names
from nami_action.compile.consumer import LOG_GROUP
from nami_action.config import load_config
from nami_action.config.routes import logical_prefix
from nami_action.envelope import IncomingRequest, encode_envelope
from nami_action.operate.dlq import peek
from nami_action.plan.planner import PlanOptions, make_plan, plan_destroy
from nami_action.runtime import entry, router, secrets
from tests.stand_in import FAST, cold_container, deploy_and_stand_in

BUCKET = "rttest-artifacts"
ROUTES = ("billing", "crm", "audit", "rest")

__all__ = ["cold_container"]  # the fixture, used by name below
pytestmark = [pytest.mark.emulator, pytest.mark.usefixtures("cold_container")]


def deploy_routes(aws: Aws, monkeypatch: pytest.MonkeyPatch, config_path: Path) -> dict[str, str]:
    """Deploy, set this process up as the router; logical id -> physical id."""
    _, resources = deploy_and_stand_in(aws, monkeypatch, config_path, BUCKET)
    return resources


def send(aws: Aws, queue_url: str, event_type: str, event_id: str, **headers: str) -> None:
    request = IncomingRequest(
        method="POST",
        path="/live/stripe",
        headers={"Content-Type": "application/json", **headers},
        body=json.dumps({"id": event_id, "type": event_type}).encode(),
        source_ip="203.0.113.9",
        request_id=f"req-{event_id}",
        received_at_ms=int(time.time() * 1000),
    )
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=encode_envelope(request))


def route_batch(aws: Aws, queue_url: str) -> int:
    """One receive-invoke-delete round of the event source mapping; records received."""
    sqs = aws.client("sqs")
    got = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    records = [
        {
            "eventSourceARN": arn["Attributes"]["QueueArn"],
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            # Lambda's shape: lower-case keys (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]}
                for k, v in m.get("MessageAttributes", {}).items()
            },
        }
        for m in got
    ]
    if not records:
        return 0
    result = entry.handler({"Records": records}, None)
    failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
    for m in got:
        if m["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return len(records)


def drain_router(aws: Aws, queue_url: str) -> None:
    deadline = time.monotonic() + 30
    while route_batch(aws, queue_url):
        assert time.monotonic() < deadline


def queued_ids(aws: Aws, queue_url: str) -> list[str]:
    """The event ids waiting in a queue (received once, then left to reappear)."""
    sqs = aws.client("sqs")
    ids: list[str] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", [])
        if not got:
            return sorted(ids)
        for m in got:
            envelope = json.loads(m["Body"])
            ids.append(json.loads(base64.b64decode(envelope["body"]))["id"])


def route_queue(resources: dict[str, str], route: str) -> str:
    return resources[logical_prefix(route) + names.QUEUE]


def test_each_webhook_lands_in_the_queues_of_the_routes_it_matches(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    routes_project: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    resources = deploy_routes(aws, monkeypatch, routes_project("https://app.example.com"))
    inbox = resources[names.QUEUE]
    send(aws, inbox, "invoice.paid", "evt_1")
    send(aws, inbox, "customer.created", "evt_2")
    send(aws, inbox, "charge.failed", "evt_3")
    send(aws, inbox, "customer.updated", "evt_4", **{"X-Audit": "1"})
    drain_router(aws, inbox)

    found = {route: queued_ids(aws, route_queue(resources, route)) for route in ROUTES}
    assert found == {
        "billing": ["evt_1"],
        "crm": ["evt_2", "evt_4"],
        "audit": ["evt_4"],
        "rest": ["evt_3"],
    }
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    metrics = [x for x in lines if "_aws" in x]
    assert sum(x["Routed"] for x in metrics) == 4
    assert sum(x["Unrouted"] for x in metrics) == 0
    (multi,) = [x for x in lines if x.get("routes") == ["crm", "audit"]]
    assert multi["outcome"] == "routed"


def test_unrouted_is_kept_in_the_dead_letter_queue_with_its_reason(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    routes_project: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = routes_project("https://app.example.com", default=False)
    resources = deploy_routes(aws, monkeypatch, path)
    inbox = resources[names.QUEUE]
    send(aws, inbox, "charge.failed", "evt_lost")
    drain_router(aws, inbox)

    letters = peek(aws, resources[names.DEAD_LETTER_QUEUE], 10)
    assert [(x.outcome, x.reason) for x in letters] == [("unrouted", "matched no route")]
    printed = capsys.readouterr().out.splitlines()
    metrics = [json.loads(x) for x in printed if "_aws" in x]
    assert sum(x["Unrouted"] for x in metrics) == 1

    # `nami events` shows it, from the router's log group (what Lambda would have written).
    logs = aws.client("logs")
    group = resources[LOG_GROUP]
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now + i, "message": x} for i, x in enumerate(printed)],
    )
    config = str(path)
    shown = CliRunner().invoke(cli, ["events", "stripe", config, "--outcome", "unrouted"])
    assert shown.exit_code == 0, shown.output
    (row,) = shown.output.splitlines()[1:]
    assert "unrouted" in row and "matched no route" in row
    # A route's own consumer logs to its own group; a route that is not there is one line.
    wrong = CliRunner().invoke(cli, ["events", "stripe", config, "--route", "biling"])
    assert wrong.exit_code != 0
    assert "pipeline `stripe` has no route `biling`; did you mean `billing`?" in wrong.output
    assert "Traceback" not in wrong.output


def test_a_copy_owing_only_removed_routes_is_kept_with_a_reason_that_says_so(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, routes_project: Callable[..., Path]
) -> None:
    resources = deploy_routes(aws, monkeypatch, routes_project("https://app.example.com"))
    inbox = resources[names.QUEUE]
    request = IncomingRequest(
        method="POST",
        path="/live/stripe",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"id": "evt_owed", "type": "invoice.paid"}).encode(),
        source_ip="203.0.113.9",
        request_id="req-owed",
        received_at_ms=int(time.time() * 1000),
    )
    # A copy put back for a route `ledger` that a later deploy removed.
    aws.client("sqs").send_message(
        QueueUrl=inbox,
        MessageBody=encode_envelope(request),
        MessageAttributes={
            router.ROUTES_ATTRIBUTE: {"DataType": "String", "StringValue": "ledger"}
        },
    )
    drain_router(aws, inbox)

    (letter,) = peek(aws, resources[names.DEAD_LETTER_QUEUE], 10)
    assert letter.outcome == "unrouted"
    assert letter.reason == "owed to ledger, no longer among this pipeline's routes"
    # Not matched again: billing (which invoice.paid matches) got nothing.
    assert queued_ids(aws, route_queue(resources, "billing")) == []


def refuse_sends(aws: Aws, queue_url: str) -> Callable[[], None]:
    """Delete a route's queue (SendMessage to it fails); returns what makes it again."""
    sqs = aws.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    kept = {
        k: v
        for k, v in attributes["Attributes"].items()
        if k in ("VisibilityTimeout", "MessageRetentionPeriod")
    }
    sqs.delete_queue(QueueUrl=queue_url)
    return lambda: sqs.create_queue(QueueName=queue_url.rsplit("/", 1)[-1], Attributes=kept)


def printed_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]


def routed_count(lines: list[dict[str, object]]) -> int:
    """`Routed`, summed over the batches' EMF lines."""
    return sum(int(str(x["Routed"])) for x in lines if "_aws" in x)


def test_a_refused_send_reaches_that_route_later_and_the_others_once(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    routes_project: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    resources = deploy_routes(aws, monkeypatch, routes_project("https://app.example.com"))
    inbox = resources[names.QUEUE]
    monkeypatch.setattr(router, "REQUEUE_DELAY", 0)  # the put-back copy is routed at once
    audit = route_queue(resources, "audit")
    restore = refuse_sends(aws, audit)
    send(aws, inbox, "customer.updated", "evt_4", **{"X-Audit": "1"})
    assert route_batch(aws, inbox) == 1

    first = printed_lines(capsys)
    line = next(x for x in first if "routes" in x)
    assert (line["outcome"], line["routes"], line["reason"]) == (
        "routed",
        ["crm"],
        "put back for audit",
    )
    restore()  # the route's queue is back
    drain_router(aws, inbox)

    assert queued_ids(aws, route_queue(resources, "crm")) == ["evt_4"]  # once
    assert queued_ids(aws, audit) == ["evt_4"]
    then = printed_lines(capsys)
    copy = next(x for x in then if "routes" in x)
    assert (copy["outcome"], copy["routes"], copy["putBackCopy"]) == ("routed", ["audit"], True)
    # One webhook, routed to two routes in two goes: `Routed` counts it once.
    assert routed_count(first + then) == 1


def test_a_routes_dead_letters_are_peeked_and_redriven_by_its_name(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, routes_project: Callable[..., Path]
) -> None:
    path = routes_project("https://app.example.com")
    resources = deploy_routes(aws, monkeypatch, path)
    crm_dlq = resources[logical_prefix("crm") + names.DEAD_LETTER_QUEUE]
    send(aws, crm_dlq, "customer.created", "evt_refused")  # as the crm route dead-lettered it
    config = str(path)

    peeked = CliRunner().invoke(cli, ["dlq", "peek", "stripe/crm", "--config", config])
    assert peeked.exit_code == 0, peeked.output
    assert "req-evt_refused" in peeked.output  # the webhook's id
    redriven = CliRunner().invoke(
        cli, ["dlq", "redrive", "stripe/crm", "--config", config, "--poll-seconds", "0.05"]
    )
    assert redriven.exit_code == 0, redriven.output
    assert queued_ids(aws, route_queue(resources, "crm")) == ["evt_refused"]
    assert queued_ids(aws, crm_dlq) == []
    assert queued_ids(aws, resources[names.QUEUE]) == []  # not the router's queue

    wrong = CliRunner().invoke(cli, ["dlq", "peek", "stripe/cmr", "--config", config])
    assert wrong.exit_code != 0 and "Traceback" not in wrong.output
    assert "pipeline `stripe` has no route `cmr`; did you mean `stripe/crm`?" in wrong.output


def test_webhooks_in_a_dropped_routes_queue_are_warned_of_and_counted_by_destroy(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, routes_project: Callable[..., Path]
) -> None:
    """A route's queue is a queue of the pipeline: dropping the route warns like dropping the
    pipeline's own queue would, and `nami destroy` counts what route queues hold."""
    config_path = routes_project("https://app.example.com")
    resources = deploy_routes(aws, monkeypatch, config_path)
    send(aws, route_queue(resources, "rest"), "charge.failed", "evt_1")
    text = config_path.read_text()
    rest = next(line for line in text.splitlines(keepends=True) if "rest: {match: default" in line)
    config_path.write_text(text.replace(rest, ""))
    config = load_config(config_path)
    options = PlanOptions(poll_seconds=FAST, cost=None)

    (plan,) = make_plan(config, aws, options).plan.pipelines
    kinds = {(w.kind, w.resource) for w in plan.warnings}
    assert ("queue-removed", "RouteRestQueue") in kinds
    assert any(
        w.kind == "messages-waiting" and "RouteRestQueue" in w.message for w in plan.warnings
    )
    assert plan.messages_waiting == 1

    (gone,) = plan_destroy(config, aws, ("stripe",), options).plan.pipelines
    assert gone.messages_waiting == 1
    assert any(w.loses_messages for w in gone.warnings)


GITHUB_SECRET = "/rttest/github"


def signed_project(routes_project: Callable[..., Path]) -> Path:
    """The routes project, verified with GitHub's scheme and a secret in SSM."""
    path = routes_project("https://app.example.com")
    secret = f"verify: {{scheme: github, secret: 'ssm:{GITHUB_SECRET}'}}"
    path.write_text(path.read_text().replace("verify: {scheme: none}", secret))
    return path


def send_signed(aws: Aws, queue_url: str, secret: str, event_type: str, event_id: str) -> None:
    body = json.dumps({"id": event_id, "type": event_type}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = IncomingRequest(
        method="POST",
        path="/live/stripe",
        headers={"X-Hub-Signature-256": signature, "X-Audit": "1"},
        body=body,
        source_ip="203.0.113.9",
        request_id=f"req-{event_id}",
        received_at_ms=int(time.time() * 1000),
    )
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=encode_envelope(request))


def new_container() -> None:
    entry.reset()
    secrets.clear_cache()


def owed(letter_attributes: dict[str, dict[str, str]]) -> str | None:
    return letter_attributes.get(router.ROUTES_ATTRIBUTE, {}).get("StringValue")


def test_a_put_back_copy_the_router_dead_letters_is_redriven_to_the_routes_it_owes(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    routes_project: Callable[..., Path],
) -> None:
    """The copy owing `audit` is rejected (the secret was rotated meanwhile): the router moves
    it to the DLQ with the reason, and with `nami-routes`; once the secret is put right, a
    redrive sends it to `audit` only: `crm` got it the first time and does not again."""
    ssm = aws.client("ssm")
    ssm.put_parameter(Name=GITHUB_SECRET, Value="one", Type="SecureString")
    path = signed_project(routes_project)
    resources = deploy_routes(aws, monkeypatch, path)
    inbox, dlq = resources[names.QUEUE], resources[names.DEAD_LETTER_QUEUE]
    monkeypatch.setattr(router, "REQUEUE_DELAY", 0)
    restore = refuse_sends(aws, route_queue(resources, "audit"))
    send_signed(aws, inbox, "one", "customer.updated", "evt_owed")
    assert route_batch(aws, inbox) == 1  # crm got it; a copy owing audit is put back

    ssm.put_parameter(Name=GITHUB_SECRET, Value="two", Type="SecureString", Overwrite=True)
    new_container()  # reads `two`
    drain_router(aws, inbox)  # the copy, signed with `one`: rejected

    (letter,) = peek(aws, dlq, 10)
    assert letter.outcome == "rejected"
    assert owed(letter.message.message_attributes) == "audit"

    ssm.put_parameter(Name=GITHUB_SECRET, Value="one", Type="SecureString", Overwrite=True)
    new_container()  # reads the secret put right
    restore()
    redriven = CliRunner().invoke(
        cli, ["dlq", "redrive", "stripe", "--config", str(path), "--poll-seconds", "0.05"]
    )
    assert redriven.exit_code == 0, redriven.output
    drain_router(aws, inbox)

    assert queued_ids(aws, route_queue(resources, "audit")) == ["evt_owed"]
    assert queued_ids(aws, route_queue(resources, "crm")) == ["evt_owed"]  # still once
    assert queued_ids(aws, dlq) == []


def test_a_put_back_copy_whose_receives_ran_out_is_replayed_to_the_routes_it_owes(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    routes_project: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """The copy owing `audit` fails until SQS's own redrive (maxReceiveCount) moves it to the
    DLQ, attributes and all; exported and replayed, it goes to `audit` only."""
    settings = "queue: {max_receive_count: 2}\nconsumer: {retry: {backoff: fixed, initial: 1}}"
    path = routes_project("https://app.example.com", settings)
    resources = deploy_routes(aws, monkeypatch, path)
    inbox, dlq = resources[names.QUEUE], resources[names.DEAD_LETTER_QUEUE]
    monkeypatch.setattr(router, "REQUEUE_DELAY", 0)
    restore = refuse_sends(aws, route_queue(resources, "audit"))
    send(aws, inbox, "customer.updated", "evt_owed", **{"X-Audit": "1"})
    deadline = time.monotonic() + 30
    while (
        aws.client("sqs").get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    ):
        assert time.monotonic() < deadline, "the copy never reached the DLQ"
        if not route_batch(aws, inbox):
            time.sleep(0.2)  # the failed copy is hidden for its retry delay (1 s)

    (letter,) = peek(aws, dlq, 10)
    assert letter.outcome is None  # its receives ran out: SQS moved it, not the runtime
    assert owed(letter.message.message_attributes) == "audit"
    out = tmp_path / "letters.jsonl"
    config = str(path)
    exported = CliRunner().invoke(
        cli, ["dlq", "export", "stripe", "--config", config, "--out", out]
    )
    assert exported.exit_code == 0, exported.output
    restore()
    replayed = CliRunner().invoke(cli, ["replay", "stripe", "--config", config, "--from", out])
    assert replayed.exit_code == 0, replayed.output
    drain_router(aws, inbox)

    assert queued_ids(aws, route_queue(resources, "audit")) == ["evt_owed"]
    assert queued_ids(aws, route_queue(resources, "crm")) == ["evt_owed"]  # still once
