"""`forward:` deployed on the moto server, the delivery run by the Lambda entry point with the
deployed function's own environment, against a real destination on 127.0.0.1.

moto does not run Lambda code (no Docker) and its event source mapping would only fail the
invocations, so the mapping is paused and `drain` plays its part: ReceiveMessage, invoke the
handler with the SQS event, delete what batchItemFailures does not name (AWS's documented
behaviour: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
moto also skips AWS::SecretsManager::Secret, so the test stores the signing secret itself
and points NAMI_FORWARD_SECRET at it, as the template's Ref would.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from nami_action.aws.session import Aws
from nami_action.config import load_config
from nami_action.envelope import IncomingRequest, encode_envelope
from nami_action.operate.dlq import peek
from nami_action.operate.pipelines import locate
from nami_action.operate.redrive import RedriveOptions, redrive
from nami_action.runtime import entry
from tests.stand_in import cold_container, deploy_and_stand_in

from .conftest import SECRET
from .destination import Answer, Destination, Received

BUCKET = "fwtest-artifacts"

__all__ = ["cold_container"]  # the fixture, used by name below
pytestmark = [pytest.mark.emulator, pytest.mark.usefixtures("cold_container")]


def deploy_forward(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    forward_project: Callable[..., Path],
    url: str,
    pipeline: str = "",
) -> dict[str, str]:
    """Deploy the pipeline, set this process up as its delivery function; its queue URLs."""
    config_path = forward_project(
        url,
        "rate: 50/s, concurrency: 5, timeout: 5s",
        "dedupe: {json_path: $.id}\nqueue: {max_receive_count: 10}\n"
        "consumer: {retry: {backoff: fixed, initial: 1s, max: 5s}}\n" + pipeline,
    )
    config, _ = deploy_and_stand_in(aws, monkeypatch, config_path, BUCKET)
    # moto skips AWS::SecretsManager::Secret: the test stores the signing secret itself.
    stored = aws.client("secretsmanager").create_secret(
        Name=f"{config.pipelines['stripe'].stack_name}-forward", SecretString=SECRET
    )
    monkeypatch.setenv("NAMI_FORWARD_SECRET", stored["ARN"])
    target = locate(aws, config.pipelines["stripe"])
    return {"queue": target.queue_url, "dlq": target.dead_letter_url, "config": str(config_path)}


def send(aws: Aws, queue_url: str, event_id: str, n: int) -> None:
    request = IncomingRequest(
        method="POST",
        path="/live/stripe",
        headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=abc"},
        body=json.dumps({"id": event_id}).encode(),
        source_ip="203.0.113.9",
        request_id=f"req-{event_id}-{n}",
        received_at_ms=int(time.time() * 1000),
    )
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=encode_envelope(request))


def drain(aws: Aws, queue_url: str, until: Callable[[], bool], seconds: float) -> None:
    """The event source mapping: receive, invoke, delete the records not reported failed."""
    sqs = aws.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    queue_arn = arn["Attributes"]["QueueArn"]
    deadline = time.monotonic() + seconds
    while not until():
        assert time.monotonic() < deadline, "the queue did not drain in time"
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            time.sleep(0.1)
            continue
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "eventSourceARN": queue_arn,
            }
            for m in got
        ]
        result = entry.handler({"Records": records}, None)
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        done = [m for m in got if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )


def metrics(out: str) -> Counter[str]:
    """The EMF lines' counts, summed."""
    total: Counter[str] = Counter()
    for line in out.splitlines():
        if '"_aws"' in line:
            data = json.loads(line)
            for metric in data["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                total[metric["Name"]] += data[metric["Name"]]
    return total


def test_an_outage_is_retried_and_each_event_delivered_once(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    forward_project: Callable[..., Path],
    destination: Destination,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def outage(received: Received, before: int) -> Answer:
        # Down for the first 2 s after the first request, then up.
        started = destination.received[0].at
        return (503, {}, b"down") if received.at < started + 2.0 else (200, {}, b"ok")

    destination.script = outage
    queues = deploy_forward(aws, monkeypatch, forward_project, destination.url + "/hooks")
    ids = [f"evt_{i}" for i in range(12)]
    for n, event_id in enumerate([*ids, *ids[:4]]):  # four sent twice by the sender
        send(aws, queues["queue"], event_id, n)

    drain(aws, queues["queue"], lambda: len(destination.delivered()) >= len(ids), 60)
    drain(aws, queues["queue"], lambda: not _visible(aws, queues["queue"]), 20)

    delivered = [json.loads(r.body)["id"] for r in destination.delivered()]
    assert sorted(delivered) == sorted(ids)
    assert 503 in destination.answers
    assert all(r.verified for r in destination.received)
    counts = metrics(capsys.readouterr().out)
    assert counts["Forwarded"] == len(ids)
    assert counts["Duplicate"] == 4
    assert counts["Failed"] == destination.answers.count(503)


def _visible(aws: Aws, queue_url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_retry_after_sets_the_next_attempt(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    forward_project: Callable[..., Path],
    destination: Destination,
) -> None:
    def busy_once(received: Received, before: int) -> Answer:
        return (429, {"Retry-After": "3"}, b"busy") if before == 0 else (200, {}, b"ok")

    destination.script = busy_once
    queues = deploy_forward(aws, monkeypatch, forward_project, destination.url)
    send(aws, queues["queue"], "evt_busy", 0)

    drain(aws, queues["queue"], lambda: len(destination.delivered()) == 1, 30)
    first, second = destination.received
    assert destination.answers == [429, 200]
    assert second.at - first.at >= 3.0  # ChangeMessageVisibility(3), not the 1 s schedule


def test_a_refusal_goes_to_the_dlq_with_its_reason_and_redrive_delivers_it(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    forward_project: Callable[..., Path],
    destination: Destination,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fixed = False

    def strict(received: Received, before: int) -> Answer:
        return (200, {}, b"ok") if fixed else (422, {}, b"missing field: customer")

    destination.script = strict
    queues = deploy_forward(aws, monkeypatch, forward_project, destination.url)
    send(aws, queues["queue"], "evt_bad", 0)
    drain(aws, queues["queue"], lambda: len(destination.received) == 1, 30)

    (letter,) = peek(aws, queues["dlq"], 10)
    assert letter.outcome == "refused"
    assert letter.reason == "HTTP 422: missing field: customer"
    assert metrics(capsys.readouterr().out)["Refused"] == 1

    fixed = True
    config = load_config(Path(queues["config"]))
    target = locate(aws, config.pipelines["stripe"])
    moved = redrive(aws, target, RedriveOptions(journal_folder=tmp_path / "journal"))
    assert moved.moved == 1
    drain(aws, queues["queue"], lambda: len(destination.delivered()) == 1, 30)
    assert destination.answers == [422, 200]  # dedupe released the refused event's claim
