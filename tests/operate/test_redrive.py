"""redrive against the moto server (no StartMessageMoveTask there: the copy loop runs):
every dead letter reaches the queue exactly once, even when a run is interrupted."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from botocore.stub import Stubber

from nami_action.aws.session import Aws, AwsError, AwsTarget
from nami_action.config import Config
from nami_action.operate.dlq import EmptyQueue
from nami_action.operate.pipelines import DeployedPipeline
from nami_action.operate.redrive import (
    REDRIVE_ATTRIBUTE,
    RedriveOptions,
    journal_path,
    redrive,
)

from .support import REGION, depth, drain, envelope, make_queues, put
from .test_dlq import GITHUB_SECRET, lambda_records, run_consumer, signed_envelope


def options(tmp_path: Path, **changes: Any) -> RedriveOptions:
    return RedriveOptions(journal_folder=tmp_path / "journal", **changes)


def origins(messages: list[dict[str, Any]]) -> list[str]:
    """The DLQ message id each copy in the queue was made from."""
    return [m["MessageAttributes"][REDRIVE_ATTRIBUTE]["StringValue"] for m in messages]


def filled(
    aws: Aws, config: Config, pipeline: str, count: int
) -> tuple[DeployedPipeline, list[str]]:
    target = make_queues(aws, config, pipeline)
    return target, put(aws, target.dead_letter_url, [envelope(i) for i in range(count)])


def test_redrive_moves_everything_once(aws: Aws, config: Config, tmp_path: Path) -> None:
    target, sent = filled(aws, config, "github", 23)
    seen: list[int] = []

    result = redrive(aws, target, options(tmp_path), lambda moved, total: seen.append(moved))

    assert (result.method, result.moved, result.resumed) == ("copy", 23, 0)
    assert seen[-1] == 23
    assert depth(aws, target.dead_letter_url) == (0, 0)
    copies = drain(aws, target.queue_url)
    assert sorted(origins(copies)) == sorted(sent)
    assert sorted(m["Body"] for m in copies) == sorted(envelope(i) for i in range(23))
    assert not journal_path(tmp_path / "journal", target.dead_letter_url).exists()


def test_interrupted_redrive_then_rerun_moves_each_exactly_once(
    aws: Aws, config: Config, tmp_path: Path
) -> None:
    target, sent = filled(aws, config, "github", 27)

    def ctrl_c_after_ten(sent_so_far: int) -> None:
        if sent_so_far >= 10:
            raise KeyboardInterrupt  # between a confirmed send and the delete

    with pytest.raises(KeyboardInterrupt):
        redrive(aws, target, options(tmp_path, after_send=ctrl_c_after_ten))
    # The batch in hand was settled on the way out: copies' originals deleted, nothing held.
    assert depth(aws, target.dead_letter_url) == (17, 0)
    assert depth(aws, target.queue_url) == (10, 0)

    result = redrive(aws, target, options(tmp_path))

    assert result.moved == 17
    copies = drain(aws, target.queue_url)
    assert sorted(origins(copies)) == sorted(sent)  # every one, none twice
    assert depth(aws, target.dead_letter_url) == (0, 0)


def test_crash_between_send_and_delete_is_finished_by_the_journal(
    emulator: str, aws: Aws, config: Config, tmp_path: Path
) -> None:
    """The network dies after SQS stored the first copies: deletes fail, so do the deletes
    tried on the way out. The journal knows those copies exist; the re-run (a new process)
    deletes their originals without sending them again."""
    target, sent = filled(aws, config, "github", 25)
    broken = Aws(AwsTarget(region=REGION, endpoint_url=emulator))

    def network_down(**_: Any) -> None:
        raise botocore.exceptions.EndpointConnectionError(endpoint_url=emulator)

    broken.client("sqs").meta.events.register("before-call.sqs.DeleteMessageBatch", network_down)
    with pytest.raises(AwsError, match="cannot reach AWS while deleting"):
        redrive(broken, target, options(tmp_path))
    journal = journal_path(tmp_path / "journal", target.dead_letter_url)
    assert journal.read_text().count("sent ") == 10
    assert depth(aws, target.queue_url) == (10, 0)
    assert depth(aws, target.dead_letter_url) == (25, 0)  # released, none lost

    rerun = redrive(Aws(AwsTarget(region=REGION, endpoint_url=emulator)), target, options(tmp_path))

    assert (rerun.moved, rerun.resumed) == (15, 10)
    assert sorted(origins(drain(aws, target.queue_url))) == sorted(sent)
    assert depth(aws, target.dead_letter_url) == (0, 0)
    assert not journal.exists()


def test_fifo_redrive_keeps_group_order_and_deduplicates(
    aws: Aws, config: Config, tmp_path: Path
) -> None:
    target, sent = filled(aws, config, "orders", 14)
    result = redrive(aws, target, options(tmp_path))
    assert result.moved == 14
    copies = drain(aws, target.queue_url)
    assert origins(copies) == sent  # in order
    assert {m["Attributes"]["MessageGroupId"] for m in copies} == {"nami"}
    assert [m["Attributes"]["MessageDeduplicationId"] for m in copies] == sent


def test_rate_limits_the_copy_loop(aws: Aws, config: Config, tmp_path: Path) -> None:
    target, _ = filled(aws, config, "github", 12)
    started = time.monotonic()
    result = redrive(aws, target, options(tmp_path, rate=10))
    assert result.moved == 12
    assert time.monotonic() - started >= 1.0  # 10 at once, the next 2 a second later


def test_dry_run_counts_and_moves_nothing(aws: Aws, config: Config, tmp_path: Path) -> None:
    target, _ = filled(aws, config, "github", 8)
    result = redrive(aws, target, options(tmp_path, dry_run=True))
    assert (result.dry_run, result.moved, result.method) == (True, 8, "copy")
    assert depth(aws, target.dead_letter_url) == (8, 0)
    assert depth(aws, target.queue_url) == (0, 0)


def test_empty_dead_letter_queue_is_an_error(aws: Aws, config: Config, tmp_path: Path) -> None:
    target = make_queues(aws, config, "github")
    with pytest.raises(EmptyQueue, match="empty"):
        redrive(aws, target, options(tmp_path))


def test_move_task_is_used_where_sqs_has_it(aws: Aws, config: Config, tmp_path: Path) -> None:
    """StartMessageMoveTask, then ListMessageMoveTasks until COMPLETED (answers stubbed:
    the emulator has no move tasks)."""
    target, _ = filled(aws, config, "github", 5)
    sqs = aws.client("sqs")
    dlq_arn = f"arn:aws:sqs:{REGION}:123456789012:shop-github-dlq"
    queue_arn = f"arn:aws:sqs:{REGION}:123456789012:shop-github"
    seen: list[tuple[int, int | None]] = []
    with Stubber(sqs) as stub:
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"ApproximateNumberOfMessages": "5"}},
        )
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": dlq_arn}})
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": queue_arn}})
        stub.add_response("list_message_move_tasks", {"Results": []})
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-1"},
            {"SourceArn": dlq_arn, "DestinationArn": queue_arn, "MaxNumberOfMessagesPerSecond": 50},
        )
        for status, moved in (("RUNNING", 2), ("COMPLETED", 5)):
            stub.add_response(
                "list_message_move_tasks",
                {
                    "Results": [
                        {
                            "TaskHandle": "task-1",
                            "Status": status,
                            "ApproximateNumberOfMessagesMoved": moved,
                            "ApproximateNumberOfMessagesToMove": 5,
                        }
                    ]
                },
            )
        result = redrive(
            aws,
            target,
            options(tmp_path, rate=50, poll_seconds=0.01),
            lambda moved, total: seen.append((moved, total)),
        )
    assert (result.method, result.moved) == ("move-task", 5)
    assert seen == [(2, 5), (5, 5)]


def test_a_rejected_webhook_redriven_after_fixing_the_secret_is_handled(
    aws: Aws, config: Config, tmp_path: Path
) -> None:
    target = make_queues(aws, config, "github")
    # The sender signs with a secret the pipeline does not know yet: rejected, to the DLQ.
    original = signed_envelope(7)
    put(aws, target.queue_url, [original])
    calls, lines = run_consumer(
        aws, target, "old-secret", lambda_records(drain(aws, target.queue_url))
    )
    assert calls == [] and [line["outcome"] for line in lines] == ["rejected"]
    assert depth(aws, target.dead_letter_url) == (1, 0)

    # The secret is fixed; the rejected webhook is redriven and, minutes later, verifies
    # (its signed time is checked against when API Gateway received it, not now).
    assert redrive(aws, target, options(tmp_path), lambda moved, total: None).moved == 1
    redriven = drain(aws, target.queue_url)
    assert [m["Body"] for m in redriven] == [original]
    calls, lines = run_consumer(aws, target, GITHUB_SECRET, lambda_records(redriven))

    assert calls == [{"n": 7}] and [line["outcome"] for line in lines] == ["handled"]
    assert depth(aws, target.dead_letter_url) == (0, 0)


class RefailingConsumer:
    """A consumer that fails every webhook at once, as a still-broken one would: each is put
    back in the DLQ while redrive runs, half as SQS's redrive policy moves them (attributes
    kept, `nami-redrive-of` included), half as the runtime rejects them (a new message)."""

    def __init__(self, emulator: str, target: DeployedPipeline) -> None:
        self.sqs = Aws(AwsTarget(region=REGION, endpoint_url=emulator)).client("sqs")
        self.target = target
        self.failed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            answer = self.sqs.receive_message(
                QueueUrl=self.target.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            )
            for message in answer.get("Messages", []):
                kept = message.get("MessageAttributes", {}) if self.failed % 2 else {}
                self.sqs.send_message(
                    QueueUrl=self.target.dead_letter_url,
                    MessageBody=message["Body"],
                    MessageAttributes={
                        **kept,
                        "nami-outcome": {"DataType": "String", "StringValue": "rejected"},
                    },
                )
                self.sqs.delete_message(
                    QueueUrl=self.target.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                self.failed += 1
            time.sleep(0.01)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)


def test_redrive_moves_at_most_what_was_there_while_the_consumer_keeps_failing(
    emulator: str, aws: Aws, config: Config, tmp_path: Path
) -> None:
    target, _ = filled(aws, config, "github", 30)
    # Six held by another reader: counted at the start, so the run's budget is 30 and it goes
    # on receiving after its 24 moves, meeting the copies that came back.
    held = aws.client("sqs").receive_message(
        QueueUrl=target.dead_letter_url, MaxNumberOfMessages=6, VisibilityTimeout=600
    )
    assert len(held["Messages"]) == 6
    consumer = RefailingConsumer(emulator, target)

    def after_send(moved: int) -> None:
        if moved > 24:
            raise AssertionError(f"moved {moved} of 24: copies that came back were moved again")
        if moved == 24:  # let every copy fail and come back before the run looks again
            deadline = time.monotonic() + 20
            while consumer.failed < 24 and time.monotonic() < deadline:
                time.sleep(0.02)

    try:
        result = redrive(aws, target, options(tmp_path, after_send=after_send))
    finally:
        consumer.close()
    assert (result.moved, result.resumed, result.still_hidden) == (24, 0, 6)
    assert consumer.failed == 24 and 0 < result.came_back <= 24  # ends after 3 receives of them
    assert any("came back to the dead-letter queue" in note for note in result.notes)
    # The 24 failed once more and wait in the DLQ, visible again at once (none lost); the six
    # held by the other reader are untouched.
    assert depth(aws, target.dead_letter_url) == (24, 6)
    assert depth(aws, target.queue_url) == (0, 0)


def test_a_move_task_that_moves_more_than_was_there_is_cancelled(
    aws: Aws, config: Config, tmp_path: Path
) -> None:
    """SQS counts ApproximateNumberOfMessagesToMove at the task's start; a task that moves
    more is moving copies that came back, and is cancelled (answers stubbed: the emulator has
    no move tasks)."""
    target, _ = filled(aws, config, "github", 5)
    sqs = aws.client("sqs")
    dlq_arn = f"arn:aws:sqs:{REGION}:123456789012:shop-github-dlq"
    queue_arn = f"arn:aws:sqs:{REGION}:123456789012:shop-github"

    def task(status: str, moved: int) -> dict[str, Any]:
        entry = {
            "TaskHandle": "task-1",
            "Status": status,
            "ApproximateNumberOfMessagesMoved": moved,
            "ApproximateNumberOfMessagesToMove": 5,
        }
        return {"Results": [entry]}

    with Stubber(sqs) as stub:
        stub.add_response(
            "get_queue_attributes", {"Attributes": {"ApproximateNumberOfMessages": "5"}}
        )
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": dlq_arn}})
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": queue_arn}})
        stub.add_response("list_message_move_tasks", {"Results": []})
        stub.add_response("start_message_move_task", {"TaskHandle": "task-1"})
        stub.add_response("list_message_move_tasks", task("RUNNING", 4))
        stub.add_response("list_message_move_tasks", task("RUNNING", 7))
        stub.add_response(
            "cancel_message_move_task",
            {"ApproximateNumberOfMessagesMoved": 7},
            {"TaskHandle": "task-1"},
        )
        stub.add_response("list_message_move_tasks", task("CANCELLING", 8))
        stub.add_response("list_message_move_tasks", task("CANCELLED", 8))
        result = redrive(aws, target, options(tmp_path, poll_seconds=0.01))
        stub.assert_no_pending_responses()
    assert (result.method, result.moved) == ("move-task", 8)
    assert any("nami cancelled it" in note for note in result.notes), result.notes
