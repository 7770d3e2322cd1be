"""No deploy strands a webhook: when a change replaces a pipeline's queue, deploy --force moves
what the old queue holds into the new one, exactly once, also when the move is interrupted.
On the moto server, with webhooks waiting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nami_action.apply import DeployOptions, deploy
from nami_action.aws import stacks as cfn
from nami_action.aws.session import Aws
from nami_action.operate.carry_over import carry_over, intent_path, read_intent, record_intent
from nami_action.operate.pause import consumer_mapping
from nami_action.operate.redrive import RedriveOptions

from .support import Project
from .test_deploy import FAST, deploy_project, fresh_aws, outcomes, plan_run

WAITING = 23


def make_fifo(project: Project) -> None:
    """`queue.fifo` changes FifoQueue and QueueName: CloudFormation replaces both queues."""
    project.config.write_text(
        project.config.read_text().replace(
            "      max_concurrency: 2\n", "      max_concurrency: 2\n    queue: {fifo: true}\n"
        )
    )


def fill(aws: Aws, url: str, prefix: str, count: int) -> list[str]:
    bodies = [json.dumps({"webhook": f"{prefix}-{i}"}) for i in range(count)]
    for body in bodies:
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=body)
    return bodies


def drain(aws: Aws, url: str) -> list[str]:
    sqs, found = aws.client("sqs"), []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages"):
        found += [m["Body"] for m in batch]
    return found


def queues(aws: Aws, stack: str) -> dict[str, str]:
    resources = cfn.stack_resources(aws, stack) or {}
    return {k: resources[k] for k in ("Queue", "DeadLetterQueue")}


def pause_consumer(aws: Aws) -> None:
    """moto hands every message sent to a queue to its event source mapping at once (and
    the Lambda cannot start without Docker): a paused consumer keeps the webhooks waiting,
    countable."""
    uuid = consumer_mapping(aws, "shop-orders")
    assert uuid is not None
    aws.client("lambda").update_event_source_mapping(UUID=uuid, Enabled=False)


def test_a_forced_queue_replacement_records_the_old_queues_then_moves_them(
    project: Project, emulator: str, aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On AWS the update below replaces both queues. moto updates the queue in place instead
    (measured: same URL after FifoQueue changed), so here the recorded move finds nothing
    replaced and is dropped; the move itself is proven by the tests below."""
    import nami_action.apply

    deploy_project(project, emulator)
    pause_consumer(aws)
    old = queues(aws, "shop-orders")
    waiting = fill(aws, old["Queue"], "q", WAITING)
    make_fifo(project)
    plan = plan_run(project, fresh_aws(emulator)).plan
    (orders,) = plan.changed
    warned = {w.resource for w in orders.warnings if w.kind == "queue-replaced"}
    assert warned == {"Queue", "DeadLetterQueue"}
    assert all("moves the webhooks" in w.message for w in orders.warnings if w.resource)

    folder = tmp_path / "moves"
    intents: dict[str, dict[str, str]] = {}

    def seen(aws: Aws, pipeline: Any, folder: Path) -> Any:
        intents[pipeline.name] = read_intent(folder, pipeline.stack_name)
        return carry_over(aws, pipeline, folder)

    monkeypatch.setattr(nami_action.apply, "carry_over", seen)
    refused = deploy_with(project, emulator, folder)
    assert outcomes(refused)["orders"] == "refused"  # still asks for --force
    assert "orders" not in intents  # nothing ran, nothing recorded
    result = deploy_with(project, emulator, folder, force=True)
    assert outcomes(result)["orders"] == "updated", result.pipelines
    assert intents["orders"] == old  # written before the change set ran
    assert not intent_path(folder, "shop-orders").exists()
    assert sorted(drain(aws, queues(aws, "shop-orders")["Queue"])) == sorted(waiting)


def deploy_with(project: Project, emulator: str, folder: Path, **options: Any) -> Any:
    run = plan_run(project, fresh_aws(emulator), keep=True)
    settings = DeployOptions(poll_seconds=FAST, move_folder=folder, max_parallel=1, **options)
    return deploy(fresh_aws(emulator), run, settings, lambda event: None)


def replaced_on_aws(project: Project, emulator: str, aws: Aws, folder: Path) -> dict[str, Any]:
    """The state AWS leaves after a forced replacement: the stack's queues are new and empty,
    the old ones (retained) hold the webhooks, and the intent names them."""
    deploy_project(project, emulator)
    pause_consumer(aws)
    sqs = aws.client("sqs")
    old = {
        "Queue": sqs.create_queue(QueueName="shop-orders-before")["QueueUrl"],
        "DeadLetterQueue": sqs.create_queue(QueueName="shop-orders-before-dlq")["QueueUrl"],
    }
    record_intent(folder, "shop-orders", old)
    return {
        "old": old,
        "waiting": fill(aws, old["Queue"], "q", WAITING),
        "dead": fill(aws, old["DeadLetterQueue"], "d", 3),
    }


def test_the_next_deploy_moves_a_replaced_queue_into_its_replacement(
    project: Project, emulator: str, aws: Aws, tmp_path: Path
) -> None:
    folder = tmp_path / "moves"
    state = replaced_on_aws(project, emulator, aws, folder)
    result = deploy_with(project, emulator, folder)
    assert outcomes(result)["orders"] == "unchanged"
    (orders,) = [p for p in result.pipelines if p.pipeline == "orders"]
    notes = " ".join(orders.reasons)
    assert f"moved {WAITING} webhooks from the replaced queue shop-orders-before into " in notes
    assert "moved 3 webhooks from the replaced dead-letter queue" in notes
    new = queues(aws, "shop-orders")
    assert sorted(drain(aws, new["Queue"])) == sorted(state["waiting"])  # each once
    assert sorted(drain(aws, new["DeadLetterQueue"])) == sorted(state["dead"])
    assert all(drain(aws, url) == [] for url in state["old"].values())
    assert not intent_path(folder, "shop-orders").exists()


def test_an_interrupted_move_is_finished_by_the_next_deploy_exactly_once(
    project: Project, emulator: str, aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nami_action.apply

    folder = tmp_path / "moves"
    state = replaced_on_aws(project, emulator, aws, folder)

    def killed_after_ten(aws: Aws, pipeline: Any, folder: Path) -> Any:
        def stop(sent: int) -> None:
            if sent >= 10:
                raise KeyboardInterrupt  # nami killed between a confirmed send and the delete

        return carry_over(aws, pipeline, folder, RedriveOptions(after_send=stop))

    with monkeypatch.context() as patched:
        patched.setattr(nami_action.apply, "carry_over", killed_after_ten)
        with pytest.raises(KeyboardInterrupt):
            deploy_with(project, emulator, folder)
    assert set(read_intent(folder, "shop-orders")) == {"DeadLetterQueue", "Queue"}

    result = deploy_with(project, emulator, folder)
    assert outcomes(result)["orders"] == "unchanged"
    new = queues(aws, "shop-orders")
    assert sorted(drain(aws, new["Queue"])) == sorted(state["waiting"])  # none twice
    assert drain(aws, state["old"]["Queue"]) == []
    assert not intent_path(folder, "shop-orders").exists()
