"""Pause, deploy, resume on the emulator with webhooks waiting: the closing figures.

    .venv/bin/python bench/lost_pause_deploy.py [--count 500]

Starts moto's server on 127.0.0.1 and runs the `nami` CLI against it: deploy a pipeline,
`nami pause` it, store `--count` signed webhooks in its queue (one in ten forged), deploy a
change to the consumer's event source mapping, deploy again with `--drift` (the repair path),
checking after each that the consumer is still paused and every webhook still waits; then
`nami resume`, and drain the queue through the real Nami runtime (signature check, the
pipeline's DLQ for rejects). Prints acknowledged / handled / dead-lettered / lost.

Emulator gaps (DESIGN.md): moto's API Gateway does not forward to SQS and its Lambda does not
run code, so the webhooks are stored with SendMessage (a 200 stands for the endpoint's 202)
and the runtime consumer runs in this process, receiving as the event source mapping would.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nami_action.aws.session import Aws, AwsTarget
from nami_action.envelope import IncomingRequest, encode_envelope
from nami_action.runtime.config import parse_config
from nami_action.runtime.consumer import Consumer
from nami_action.runtime.deadletters import SqsDeadLetters
from nami_action.runtime.verify import VerifySettings

REGION = "us-east-1"
SECRET = "bench-secret"
CONFIG = """version: 1
project: shop
region: us-east-1
artifacts: {{bucket: nami-bench-artifacts}}
pipelines:
  github:
    verify: {{scheme: github, secret: "ssm:/shop/github"}}
    consumer: {{code: consumer, batch_size: {batch}}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nami(*args: str) -> str:
    """The CLI, as a user runs it (NAMI_ENDPOINT_URL points it at the emulator)."""
    done = subprocess.run(
        [sys.executable, "-m", "nami_action", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"nami {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def mapping_state(aws: Aws) -> str:
    (mapping,) = aws.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    return str(mapping["State"])


def queue_urls(aws: Aws) -> tuple[str, str]:
    sqs = aws.client("sqs")
    return (
        sqs.get_queue_url(QueueName="shop-github")["QueueUrl"],
        sqs.get_queue_url(QueueName="shop-github-dlq")["QueueUrl"],
    )


def depth(aws: Aws, url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def signed_envelope(n: int) -> str:
    body = json.dumps({"n": n}).encode()
    key = b"forged" if n % 10 == 0 else SECRET.encode()
    signature = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    request = IncomingRequest(
        method="POST",
        path="/github",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
        body=body,
        request_id=f"req-{n}",
        received_at_ms=int(time.time() * 1000),
    )
    return encode_envelope(request)


def store(aws: Aws, queue: str, count: int) -> list[int]:
    """Store the webhooks as the endpoint would; the numbers SQS acknowledged."""
    acked: list[int] = []
    for start in range(1, count + 1, 10):
        numbers = list(range(start, min(start + 10, count + 1)))
        answer = aws.client("sqs").send_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(n), "MessageBody": signed_envelope(n)} for n in numbers],
        )
        acked += [int(ok["Id"]) for ok in answer.get("Successful", [])]
    return acked


def drain(aws: Aws, queue: str, dead_letters: str) -> list[int]:
    """The event source mapping's work, with the real runtime: the numbers handled."""
    handled: list[int] = []
    consumer = Consumer(
        config=parse_config({"pipeline": "github", "stack": "shop-github", "handler": "h.f"}),
        function=lambda webhook: handled.append(webhook.json()["n"]),
        verify_settings=VerifySettings("github", SECRET),
        dead_letters=SqsDeadLetters(dead_letters, client=lambda: aws.client("sqs")),
        emit=lambda line: None,
    )
    sqs = aws.client("sqs")
    while messages := sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=30, AttributeNames=["All"]
    ).get("Messages", []):
        event: dict[str, Any] = {
            "Records": [
                {"messageId": m["MessageId"], "body": m["Body"], "attributes": m["Attributes"]}
                for m in messages
            ]
        }
        failed = {f["itemIdentifier"] for f in consumer(event)["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
    return handled


def check(aws: Aws, queue: str, waiting: int, step: str) -> None:
    state, stored = mapping_state(aws), depth(aws, queue)
    print(f"{step}: consumer {state}, {stored} webhook(s) waiting")
    if state != "Disabled" or stored != waiting:
        raise SystemExit(f"after {step}: expected Disabled with {waiting} waiting")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        NAMI_ENDPOINT_URL=endpoint,
    )
    os.environ.pop("AWS_PROFILE", None)
    aws = Aws(AwsTarget(region=REGION, endpoint_url=endpoint))
    try:
        with tempfile.TemporaryDirectory(prefix="nami-pause-") as tmp:
            folder = Path(tmp)
            (folder / "consumer").mkdir()
            (folder / "consumer" / "handler.py").write_text("def handle(webhook):\n    pass\n")
            config = folder / "nami.yaml"
            config.write_text(CONFIG.format(batch=10))
            aws.client("s3").create_bucket(Bucket="nami-bench-artifacts")
            poll = ("--poll-seconds", "0.05")
            nami("deploy", str(config), *poll)
            nami("pause", "github", str(config))
            queue, dead_letters = queue_urls(aws)
            acked = store(aws, queue, args.count)
            check(aws, queue, len(acked), f"paused, {len(acked)} acknowledged")
            config.write_text(CONFIG.format(batch=5))  # the mapping itself changes
            nami("deploy", str(config), *poll)
            check(aws, queue, len(acked), "deployed a batch_size change")
            nami("deploy", str(config), "--drift", *poll)
            check(aws, queue, len(acked), "deployed again with --drift")
            nami("resume", "github", str(config))
            print(f"resumed: consumer {mapping_state(aws)}")
            handled = drain(aws, queue, dead_letters)
            dead = depth(aws, dead_letters)
            lost = len(acked) - len(set(handled)) - dead
            print(
                f"acknowledged {len(acked)}, handled {len(set(handled))}, dead-lettered "
                f"{dead} (forged: {sum(1 for n in acked if n % 10 == 0)}), lost {lost}"
            )
            if lost:
                raise SystemExit("webhooks were lost")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
