"""Every fate of an acknowledged webhook (DESIGN "Where a webhook can end up"), through the
Lambda entry point, with secrets in moto's SSM and the DLQ in moto's SQS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import pytest

from nami_action.runtime import entry, secrets
from nami_action.runtime.config import ConfigError, parse_config
from nami_action.runtime.consumer import Consumer
from nami_action.runtime.deadletters import SqsDeadLetters
from nami_action.runtime.verify import VerifySettings

from .runtime_builders import dead_letters, envelope, record, sqs_event

HOUR = 3600
DAY = 86400
BODY = b'{"id":"evt_1","type":"invoice.paid"}'
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()  # valid for every scheme
ROTATED = "whsec_" + base64.b64encode(b"r" * 32).decode()
PARAMETER = "/acme/signing"

HANDLER = """
    CALLS = []

    def handle(webhook):
        CALLS.append(webhook.json())
        action = webhook.json().get("do")
        if action == "exit":
            raise SystemExit(3)
        if action == "interrupt":
            raise KeyboardInterrupt
        if action == "fail":
            raise RuntimeError("downstream said no")
"""


def sign(scheme: str, body: bytes, ts: int, secret: str = SECRET) -> dict[str, str]:
    """Headers as each provider documents them, computed here with hmac (not nami's code)."""
    if scheme == "stripe":
        digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        return {"Stripe-Signature": f"t={ts},v1={digest}"}
    if scheme == "slack":
        base = f"v0:{ts}:".encode() + body
        digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}
    key = base64.b64decode(secret.removeprefix("whsec_"))
    raw = hmac.new(key, f"msg_1.{ts}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1," + base64.b64encode(raw).decode(),
    }


def received(
    scheme: str, received_at: int, signed_at: int, message_id: str, secret: str = SECRET
) -> dict[str, Any]:
    """A record whose envelope API Gateway stamped at `received_at` (epoch seconds)."""
    headers = sign(scheme, BODY, signed_at, secret)
    return record(envelope(BODY, headers, receivedAt=received_at * 1000), message_id)


@pytest.fixture
def ssm(emulator: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    return boto3.client("ssm", endpoint_url=emulator)


def outcomes(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {line["messageId"]: line for line in lines if "outcome" in line}


def failed(result: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


# --- 1. signed timestamps are checked against receipt, not processing ----------------------


@pytest.mark.parametrize("scheme", ["stripe", "slack", "standard-webhooks"])
def test_signed_timestamps_are_checked_against_receipt(
    scheme: str,
    ssm: Any,
    dead_letter_queue: str,
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ssm.put_parameter(Name=PARAMETER, Value=SECRET, Type="SecureString")
    module = user_module(HANDLER)
    nami_config(f"{module}.handle", verify={"scheme": scheme, "secret": f"ssm:{PARAMETER}"})
    now = int(time.time())
    event = sqs_event(
        # Stored an hour ago (a backlog, retries) and 7 days ago (redriven from the DLQ).
        received(scheme, now - HOUR, now - HOUR, "hour-late"),
        received(scheme, now - 7 * DAY, now - 7 * DAY + 2, "week-late"),
        # Signed an hour before API Gateway received it: a replay.
        received(scheme, now, now - HOUR, "replayed"),
    )

    assert entry.handler(event, None) == {"batchItemFailures": []}

    lines = outcomes(capsys)
    assert {m: line["outcome"] for m, line in lines.items()} == {
        "hour-late": "handled",
        "week-late": "handled",
        "replayed": "rejected",
    }
    assert lines["replayed"]["reason"] == "timestamp too old"
    (moved,) = dead_letters(dead_letter_queue)
    assert moved["Body"] == event["Records"][2]["body"]  # unchanged, so it can be redriven
    assert moved["MessageAttributes"]["nami-outcome"]["StringValue"] == "rejected"
    assert moved["MessageAttributes"]["nami-reason"]["StringValue"] == "timestamp too old"
    assert len(sys.modules[module].CALLS) == 2


# --- 2. nothing is deleted silently --------------------------------------------------------


def test_a_rejected_webhook_whose_move_fails_is_retried(
    emulator: str,
    monkeypatch: pytest.MonkeyPatch,
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    monkeypatch.setenv("NAMI_DEAD_LETTER_QUEUE_URL", f"{emulator}/123456789012/no-such-dlq")
    nami_config(f"{user_module(HANDLER)}.handle")
    event = sqs_event(record("{not an envelope", "junk"), record(envelope(b"{}"), "fine"))

    assert failed(entry.handler(event, None)) == ["junk"]

    junk = outcomes(capsys)["junk"]
    assert junk["outcome"] == "failed"
    assert junk["reason"] == "malformed (body is not JSON) but not moved to the dead-letter queue"
    assert "NonExistentQueue" in junk["error"] or "QueueDoesNotExist" in junk["error"]


def test_without_a_dead_letter_queue_a_rejected_webhook_stays_queued(
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    nami_config(f"{user_module(HANDLER)}.handle")  # NAMI_DEAD_LETTER_QUEUE_URL not set
    assert failed(entry.handler(sqs_event(record("[]", "junk")), None)) == ["junk"]
    assert "NAMI_DEAD_LETTER_QUEUE_URL" in outcomes(capsys)["junk"]["error"]


# --- 3. the runtime's own misconfiguration stops it; it never rejects because of it ---------


@pytest.mark.parametrize(
    ("scheme", "value", "problem"),
    [
        ("github", " ", "is empty"),
        ("standard-webhooks", "whsec_not*base64", "is not a base64 key"),
        ("standard-webhooks", "whsec_", "is not a base64 key"),
    ],
)
def test_an_unusable_secret_fails_the_cold_start(
    scheme: str,
    value: str,
    problem: str,
    ssm: Any,
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
) -> None:
    ssm.put_parameter(Name=PARAMETER, Value=value, Type="String")
    nami_config(
        f"{user_module(HANDLER)}.handle", verify={"scheme": scheme, "secret": f"ssm:{PARAMETER}"}
    )
    # Lambda fails the invocation: every record stays queued (and, after its receives, DLQ).
    with pytest.raises(ConfigError, match=f"verify secret ssm:{PARAMETER} {problem}"):
        entry.handler(sqs_event(record(envelope())), None)


def test_a_missing_secret_fails_the_cold_start(
    ssm: Any, user_module: Callable[[str], str], nami_config: Callable[..., None]
) -> None:
    nami_config(
        f"{user_module(HANDLER)}.handle", verify={"scheme": "github", "secret": "ssm:/nope"}
    )
    with pytest.raises(secrets.SecretError, match="ParameterNotFound"):
        entry.handler(sqs_event(record(envelope())), None)


def test_a_mismatch_rereads_the_secret_once_before_rejecting(
    ssm: Any,
    dead_letter_queue: str,
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ssm.put_parameter(Name=PARAMETER, Value=SECRET, Type="SecureString")
    module = user_module(HANDLER)
    nami_config(f"{module}.handle", verify={"scheme": "stripe", "secret": f"ssm:{PARAMETER}"})
    now = int(time.time())
    entry.handler(sqs_event(received("stripe", now, now, "before")), None)  # cold start: SECRET

    # The secret is rotated in SSM and the sender signs with the new one at once.
    ssm.put_parameter(Name=PARAMETER, Value=ROTATED, Type="SecureString", Overwrite=True)
    event = sqs_event(
        received("stripe", now, now, "after", secret=ROTATED),
        received("stripe", now, now, "forged", secret="guess"),
    )
    assert entry.handler(event, None) == {"batchItemFailures": []}

    lines = outcomes(capsys)
    assert [lines[m]["outcome"] for m in ("before", "after", "forged")] == [
        "handled",
        "handled",
        "rejected",
    ]
    (moved,) = dead_letters(dead_letter_queue)
    assert moved["Body"] == event["Records"][1]["body"]


def test_a_mismatch_whose_secret_cannot_be_reread_is_retried_not_rejected(
    ssm: Any,
    dead_letter_queue: str,
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ssm.put_parameter(Name=PARAMETER, Value=SECRET, Type="SecureString")
    nami_config(
        f"{user_module(HANDLER)}.handle", verify={"scheme": "slack", "secret": f"ssm:{PARAMETER}"}
    )
    now = int(time.time())
    entry.handler(sqs_event(received("slack", now, now, "first")), None)  # cold start
    ssm.delete_parameter(Name=PARAMETER)  # moved by an operator: this container cannot re-read

    event = sqs_event(received("slack", now, now, "m-1", secret=ROTATED))
    assert failed(entry.handler(event, None)) == ["m-1"]

    retried = outcomes(capsys)["m-1"]
    assert retried["outcome"] == "failed" and "ParameterNotFound" in retried["error"]
    assert dead_letters(dead_letter_queue) == []


def test_a_secret_list_accepts_the_current_and_the_previous_secret(
    ssm: Any,
    dead_letter_queue: str,
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ssm.put_parameter(Name="/acme/current", Value=ROTATED, Type="SecureString")
    ssm.put_parameter(Name="/acme/previous", Value=SECRET, Type="SecureString")
    module = user_module(HANDLER)
    references = ["ssm:/acme/current", "ssm:/acme/previous"]
    nami_config(f"{module}.handle", verify={"scheme": "standard-webhooks", "secret": references})
    now = int(time.time())
    event = sqs_event(
        received("standard-webhooks", now, now, "new", secret=ROTATED),
        received("standard-webhooks", now, now, "old", secret=SECRET),
        received("standard-webhooks", now, now, "other", secret="whsec_" + "b3RoZXI="),
    )

    assert entry.handler(event, None) == {"batchItemFailures": []}

    assert {m: line["outcome"] for m, line in outcomes(capsys).items()} == {
        "new": "handled",
        "old": "handled",
        "other": "rejected",
    }
    assert len(dead_letters(dead_letter_queue)) == 1


# --- 4. outcomes are metrics ---------------------------------------------------------------


def test_one_embedded_metric_format_line_per_batch_counts_every_outcome(
    emulator: str,
    dead_letter_queue: str,
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = boto3.client("dynamodb", endpoint_url=emulator)
    table.create_table(
        TableName="acme-dedupe",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    module = user_module(HANDLER)
    nami_config(f"{module}.handle", dedupe_table="acme-dedupe", dedupe={"json_path": "$.n"})
    event = sqs_event(
        *(record(envelope(json.dumps({"n": n}).encode())) for n in (1, 2, 3)),
        record(envelope(json.dumps({"n": 1}).encode())),  # the same event again
        record(envelope(json.dumps({"n": 4, "do": "fail"}).encode())),
        record(envelope(json.dumps({"n": 5, "do": "exit"}).encode())),
        record("not json"),
        record(json.dumps({"v": 2})),
    )
    before = int(time.time() * 1000)

    entry.handler(event, None)

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(event["Records"]) + 1
    metrics = json.loads(lines[-1])
    timestamp = metrics["_aws"].pop("Timestamp")
    assert before <= timestamp <= int(time.time() * 1000)
    assert metrics == {
        "_aws": {
            "CloudWatchMetrics": [
                {
                    "Namespace": "Nami",
                    "Dimensions": [["Pipeline"]],
                    "Metrics": [
                        {"Name": "Handled", "Unit": "Count"},
                        {"Name": "Failed", "Unit": "Count"},
                        {"Name": "Rejected", "Unit": "Count"},
                        {"Name": "Malformed", "Unit": "Count"},
                        {"Name": "Duplicate", "Unit": "Count"},
                    ],
                }
            ]
        },
        "Pipeline": "acme-github",
        "Handled": 3,
        "Failed": 2,
        "Rejected": 0,
        "Malformed": 2,
        "Duplicate": 1,
    }
    assert len(dead_letters(dead_letter_queue)) == 2


# --- 6. a handler raising BaseException fails only its own record ---------------------------


def test_system_exit_and_keyboard_interrupt_fail_only_their_record(
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = user_module(HANDLER)
    nami_config(f"{module}.handle")
    event = sqs_event(
        record(envelope(b'{"n": 1, "do": "exit"}'), "exits"),
        record(envelope(b'{"n": 2, "do": "interrupt"}'), "interrupts"),
        record(envelope(b'{"n": 3}'), "fine"),
    )

    assert failed(entry.handler(event, None)) == ["exits", "interrupts"]

    lines = outcomes(capsys)
    assert lines["exits"]["error"] == "SystemExit: 3"
    assert lines["interrupts"]["error"].startswith("KeyboardInterrupt")
    assert lines["fine"]["outcome"] == "handled"
    assert [call["n"] for call in sys.modules[module].CALLS] == [1, 2, 3]


def test_a_burst_of_forged_signatures_rereads_the_secret_at_most_once_a_second() -> None:
    reads: list[float] = []
    now = [1_700_000_000.0]

    def reread() -> VerifySettings:
        reads.append(now[0])
        return VerifySettings("github", "gh-secret")

    consumer = Consumer(
        config=parse_config({"pipeline": "github", "stack": "acme-github", "handler": "m.f"}),
        function=lambda webhook: None,
        verify_settings=VerifySettings("github", "gh-secret"),
        dead_letters=Kept(),
        reread_secrets=reread,
        clock=lambda: now[0],
        emit=lambda line: None,
    )
    forged = {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    burst = sqs_event(*(record(envelope(b"{}", forged)) for _ in range(5)))
    assert consumer(burst) == {"batchItemFailures": []}
    assert reads == [now[0]]
    now[0] += 1.0
    consumer(burst)
    assert len(reads) == 2


class Kept:
    """Dead letters kept in memory: this test is about how often secrets are read."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str]] = []

    def send(self, record: Mapping[str, Any], outcome: str, reason: str) -> None:
        self.records.append((outcome, reason))


def test_a_fifo_pipeline_moves_rejects_to_its_fifo_dead_letter_queue(
    emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    sqs = boto3.client("sqs", endpoint_url=emulator)
    url = sqs.create_queue(QueueName="acme-orders-dlq.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    rejected = record("not json", "m-1")
    rejected["attributes"]["MessageGroupId"] = "order-42"
    dead_letters_queue = SqsDeadLetters(url)

    dead_letters_queue.send(rejected, "malformed", "body is not JSON")
    dead_letters_queue.send(rejected, "malformed", "body is not JSON")  # a crash, then again

    (moved,) = dead_letters(url)  # SQS dropped the resend: same deduplication id
    assert moved["Body"] == "not json"
    assert moved["MessageAttributes"]["nami-outcome"]["StringValue"] == "malformed"
    assert moved["Attributes"]["MessageGroupId"] == "order-42"  # its group, kept in order
