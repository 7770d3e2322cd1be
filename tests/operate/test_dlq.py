"""peek and export against the moto server: every dead letter seen once, none consumed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest

from nami_action.aws.session import Aws
from nami_action.config import Config
from nami_action.envelope import IncomingRequest, encode_envelope
from nami_action.operate.dlq import (
    EmptyQueue,
    export,
    letter_text,
    letters_text,
    peek,
    printable,
    scan,
)
from nami_action.operate.pipelines import DeployedPipeline
from nami_action.runtime.config import parse_config
from nami_action.runtime.consumer import Consumer
from nami_action.runtime.deadletters import SqsDeadLetters
from nami_action.runtime.router import ROUTES_ATTRIBUTE
from nami_action.runtime.verify import VerifySettings

from .support import depth, drain, envelope, make_queues, put


def test_peek_does_not_consume(aws: Aws, config: Config) -> None:
    target = make_queues(aws, config, "github")
    sent = put(aws, target.dead_letter_url, [envelope(i) for i in range(24)] + ["not json {"])
    assert depth(aws, target.dead_letter_url) == (25, 0)

    letters = peek(aws, target.dead_letter_url, 100)

    assert sorted(letter.message.message_id for letter in letters) == sorted(sent)
    assert depth(aws, target.dead_letter_url) == (25, 0)  # released at once, not in flight
    malformed = [letter for letter in letters if letter.envelope is None]
    assert len(malformed) == 1 and malformed[0].malformed == "body is not JSON"
    decoded = {letter.envelope.request_id for letter in letters if letter.envelope}
    assert decoded == {f"req-{i:04d}" for i in range(24)}
    # Still all there for a consumer (or a redrive), each exactly once.
    assert sorted(m["MessageId"] for m in drain(aws, target.dead_letter_url)) == sorted(sent)


def test_peek_n_shows_the_first_n_and_leaves_the_rest(aws: Aws, config: Config) -> None:
    target = make_queues(aws, config, "github")
    put(aws, target.dead_letter_url, [envelope(i) for i in range(12)])
    letters = peek(aws, target.dead_letter_url, 3)
    assert len(letters) == 3
    assert depth(aws, target.dead_letter_url) == (12, 0)
    text = letters_text(letters)
    assert "receive count 1 (this peek included)" in text
    assert "X-Seq:" in text and 'body (10 bytes): {"seq":' in text


def test_peek_of_an_empty_queue_is_an_error(aws: Aws, config: Config) -> None:
    target = make_queues(aws, config, "github")
    with pytest.raises(EmptyQueue, match="empty"):
        peek(aws, target.dead_letter_url, 10)


def test_export_writes_every_message_once(aws: Aws, config: Config, tmp_path: Path) -> None:
    target = make_queues(aws, config, "github")
    bodies = [json.dumps({"seq": i}).encode() for i in range(33)] + [b"\x00\xffbinary"]
    sent = put(aws, target.dead_letter_url, [envelope(i, b) for i, b in enumerate(bodies)])
    out = tmp_path / "archive" / "github.jsonl"

    result = export(aws, target.dead_letter_url, out)

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert result.count == len(lines) == 34
    assert sorted(line["messageId"] for line in lines) == sorted(sent)
    by_seq = {line["envelope"]["id"]: line for line in lines}
    for i, body in enumerate(bodies):
        record = by_seq[f"req-{i:04d}"]
        assert base64.b64decode(record["envelope"]["body"]) == body
        assert record["receiveCount"] == 1 and "SentTimestamp" in record["attributes"]
    assert depth(aws, target.dead_letter_url) == (34, 0)
    assert list(tmp_path.joinpath("archive").iterdir()) == [out]  # no temporary file left


def test_export_keeps_malformed_messages_raw(aws: Aws, config: Config, tmp_path: Path) -> None:
    target = make_queues(aws, config, "github")
    put(aws, target.dead_letter_url, ['{"v": 1}', "plain text"])
    export(aws, target.dead_letter_url, tmp_path / "out.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted(line["rawBody"] for line in lines) == ["plain text", '{"v": 1}']
    assert all(line["malformed"] and "envelope" not in line for line in lines)


def test_scan_of_a_fifo_dlq_sees_only_the_head_of_the_group(aws: Aws, config: Config) -> None:
    # SQS hides the rest of a message group while part of it is held: a documented limit.
    target = make_queues(aws, config, "orders")
    put(aws, target.dead_letter_url, [envelope(i) for i in range(14)])
    letters = scan(aws, target.dead_letter_url)
    assert [letter.envelope.request_id for letter in letters if letter.envelope] == [
        f"req-{i:04d}" for i in range(10)
    ]
    assert depth(aws, target.dead_letter_url) == (14, 0)


def test_printable_escapes_control_characters() -> None:
    assert printable(b"a\nb\x1b[31m") == "a\\nb\\x1b[31m"
    assert printable(b"x" * 205) == "x" * 200 + "... (+5 bytes)"
    assert printable("é".encode()) == "é"


# --- webhooks the consumer runtime moved here ----------------------------------------------

GITHUB_SECRET = "right-secret"


def signed_envelope(n: int, secret: str = GITHUB_SECRET) -> str:
    body = json.dumps({"n": n}).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = IncomingRequest(
        method="POST",
        path="/github",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"},
        body=body,
        request_id=f"req-{n}",
        received_at_ms=int(time.time() * 1000),
    )
    return encode_envelope(request)


def lambda_records(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Received SQS messages as the event source mapping hands them to the function."""
    return {
        "Records": [
            {"messageId": m["MessageId"], "body": m["Body"], "attributes": m.get("Attributes", {})}
            for m in messages
        ]
    }


def run_consumer(
    aws: Aws, target: DeployedPipeline, secret: str, event: dict[str, Any]
) -> tuple[list[Any], list[dict[str, Any]]]:
    """The Lambda runtime with the pipeline's DLQ, on the moto server: (calls, log lines)."""
    calls: list[Any] = []
    lines: list[str] = []
    consumer = Consumer(
        config=parse_config({"pipeline": "github", "stack": "shop-github", "handler": "h.f"}),
        function=lambda webhook: calls.append(webhook.json()),
        verify_settings=VerifySettings("github", secret),
        dead_letters=SqsDeadLetters(target.dead_letter_url, client=lambda: aws.client("sqs")),
        emit=lines.append,
    )
    assert consumer(event) == {"batchItemFailures": []}
    return calls, [json.loads(line) for line in lines if '"outcome"' in line]


def test_peek_shows_why_the_runtime_moved_a_webhook(
    aws: Aws, config: Config, tmp_path: Path
) -> None:
    target = make_queues(aws, config, "github")
    put(aws, target.queue_url, [signed_envelope(1, secret="stale-secret"), "garbage"])
    received = drain(aws, target.queue_url)
    run_consumer(aws, target, GITHUB_SECRET, lambda_records(received))

    letters = peek(aws, target.dead_letter_url, 10)

    by_outcome = {letter.outcome: letter for letter in letters}
    assert by_outcome["rejected"].reason == "signature mismatch"
    assert by_outcome["malformed"].reason == "body is not JSON"
    text = letters_text(letters)
    assert "rejected by the consumer: signature mismatch" in text
    assert "malformed by the consumer: body is not JSON" in text
    exported = export(aws, target.dead_letter_url, tmp_path / "out.jsonl")
    lines = [json.loads(line) for line in exported.path.read_text().splitlines()]
    assert sorted((line["outcome"], line["reason"]) for line in lines) == [
        ("malformed", "body is not JSON"),
        ("rejected", "signature mismatch"),
    ]


def test_a_webhook_dead_lettered_by_its_receives_says_so(aws: Aws, config: Config) -> None:
    target = make_queues(aws, config, "github")
    put(aws, target.dead_letter_url, [envelope(1)])
    (letter,) = peek(aws, target.dead_letter_url, 10)
    assert letter.outcome is None and "its receives ran out" in letter_text(letter)


def test_a_routers_put_back_copy_says_which_routes_it_is_owed_to(aws: Aws, config: Config) -> None:
    """So an operator redrives it rather than asking the provider to resend (which would
    reach the routes that got it a second time)."""
    target = make_queues(aws, config, "github")
    owed = {ROUTES_ATTRIBUTE: {"DataType": "String", "StringValue": "audit,crm"}}
    sqs = aws.client("sqs")
    sqs.send_message(
        QueueUrl=target.dead_letter_url, MessageBody=envelope(1), MessageAttributes=owed
    )
    put(aws, target.dead_letter_url, [envelope(2)])

    text = letters_text(peek(aws, target.dead_letter_url, 10))
    shown = "put-back copy, owed to: audit, crm (redrive it; the other routes got it)"
    assert text.count(shown) == 1 and text.count("put-back copy") == 1  # not the other one
