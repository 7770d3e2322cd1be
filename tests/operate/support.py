"""Helpers for operate tests: a project on disk, deployed to moto; envelopes; queues made
directly with boto3; a local HTTP server that records what it is sent."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from nami_action.apply import DeployOptions, deploy
from nami_action.aws.session import Aws
from nami_action.config import Config, load_config
from nami_action.envelope import IncomingRequest, encode_envelope
from nami_action.operate.pipelines import DeployedPipeline
from nami_action.plan.planner import PlanOptions, make_plan

REGION = "us-east-1"
BUCKET = "nami-operate-artifacts"
FAST = 0.05
CONFIG = f"""version: 1
project: shop
region: {REGION}
artifacts: {{bucket: {BUCKET}}}
pipelines:
  github:
    verify: {{scheme: github, secret: "ssm:/shop/github-secret"}}
    consumer: {{code: consumer}}
  orders:
    verify: {{scheme: none}}
    queue: {{fifo: true}}
    consumer: {{code: consumer}}
  billing:
    verify: {{scheme: stripe, secret: "secretsmanager:shop/stripe"}}
    consumer: {{code: consumer}}
"""


def write_project(folder: Path, text: str = CONFIG) -> Path:
    (folder / "consumer").mkdir(exist_ok=True)
    (folder / "consumer" / "handler.py").write_text("def handle(webhook):\n    return None\n")
    path = folder / "nami.yaml"
    path.write_text(text)
    return path


def deploy_pipelines(aws: Aws, config_path: Path, only: tuple[str, ...]) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    run = make_plan(
        load_config(config_path), aws, PlanOptions(only, keep_change_sets=True, poll_seconds=FAST)
    )
    result = deploy(aws, run, DeployOptions(poll_seconds=FAST), lambda event: None)
    assert all(p.outcome == "created" for p in result.pipelines), result


def pause_consumers(aws: Aws) -> None:
    """Disable every event source mapping. moto emulates Lambda's SQS poller on each send
    (and, without Docker, fails every invocation, so webhooks wander to the DLQ); with the
    consumer paused the queue holds exactly what the test sent, as it would in AWS."""
    lam = aws.client("lambda")
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)


def envelope(i: int, body: bytes | None = None) -> str:
    request = IncomingRequest(
        method="POST",
        path="/live/hook",
        headers={"Content-Type": "application/json", "X-Seq": str(i)},
        body=body if body is not None else json.dumps({"seq": i}).encode(),
        source_ip="203.0.113.9",
        request_id=f"req-{i:04d}",
        received_at_ms=1_700_000_000_000 + i,
    )
    return encode_envelope(request)


def put(aws: Aws, queue_url: str, bodies: list[str]) -> list[str]:
    """Send bodies (in tens); returns their message ids in order."""
    sqs = aws.client("sqs")
    fifo = queue_url.endswith(".fifo")
    ids: list[str] = []
    for start in range(0, len(bodies), 10):
        entries: list[dict[str, Any]] = []
        for i, body in enumerate(bodies[start : start + 10]):
            entry: dict[str, Any] = {"Id": str(i), "MessageBody": body}
            if fifo:
                entry |= {"MessageGroupId": "nami", "MessageDeduplicationId": f"d{start + i}"}
            entries.append(entry)
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        assert not answer.get("Failed")
        ids += [ok["MessageId"] for ok in sorted(answer["Successful"], key=lambda s: int(s["Id"]))]
    return ids


def drain(aws: Aws, queue_url: str) -> list[dict[str, Any]]:
    """Receive (and delete) everything in a queue: what a consumer would get."""
    sqs = aws.client("sqs")
    got: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,  # the emulator answers exactly; no need to long-poll
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return got
        got += messages
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )


def depth(aws: Aws, queue_url: str) -> tuple[int, int]:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def make_queues(aws: Aws, config: Config, pipeline: str) -> DeployedPipeline:
    """The pipeline's two queues made directly (faster than a deploy), DLQ wired as deployed."""
    chosen = config.pipelines[pipeline]
    sqs = aws.client("sqs")
    fifo = chosen.spec.queue.fifo
    suffix = ".fifo" if fifo else ""
    extra = {"FifoQueue": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"{chosen.stack_name}-dlq{suffix}", Attributes=extra)[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
    queue = sqs.create_queue(
        QueueName=f"{chosen.stack_name}{suffix}", Attributes={**extra, "RedrivePolicy": redrive}
    )["QueueUrl"]
    return DeployedPipeline(chosen, chosen.stack_name, queue, dlq, None)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """A ThreadingHTTPServer on 127.0.0.1 that keeps every request and answers `status`."""

    status: int = 202
    answer: bytes = b'{"ok": true}\n'
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.requests.append(Recorded(self.path, dict(self.headers.items()), body))
                self.send_response(recorder.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(recorder.answer)))
                self.end_headers()
                self.wfile.write(recorder.answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
