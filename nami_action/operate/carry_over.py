"""A replaced queue's webhooks follow it: deploy moves them into the replacement.

A change of `QueueName` or `FifoQueue` replaces an SQS queue. CloudFormation keeps the old one
(UpdateReplacePolicy Retain), holding every webhook nobody had taken yet, but the stack, the
ingress and the consumer now use the new one: without this, those webhooks would wait in a
queue nothing reads until they expire. So a deploy run with `--force` over a `queue-replaced`
warning does, per replaced queue (the queue, the dead-letter queue):

1. before executing the change set: writes the old queue's URL to an intent file,
   `.nami/moves/<stack>.json` beside nami.yaml (fsynced), so an interrupted deploy knows
   what is still to move;
2. after the stack update: moves everything from the old queue into the new one with the
   redrive copy loop (operate/redrive.py: copy, journal, then delete the original; exactly
   once across interruption, FIFO groups kept);
3. removes the intent once the old queue is empty. Messages still in flight (an old consumer's
   batch) reappear after their visibility timeout: the intent stays and the next deploy of the
   pipeline finishes the move.
The old queue itself is left in place (empty): deleting it is the operator's call.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from nami_action.aws import stacks as cfn
from nami_action.aws.queues import queue_depth
from nami_action.aws.session import Aws
from nami_action.compile import names
from nami_action.config import PipelineConfig
from nami_action.errors import NamiError
from nami_action.operate.dlq import EmptyQueue
from nami_action.operate.pipelines import DeployedPipeline, queue_name_of
from nami_action.operate.redrive import RedriveOptions, redrive

MOVE_FOLDER = Path(".nami") / "moves"


@dataclass
class CarryOver:
    """What one pipeline's deploy moved, and what is left to move."""

    moved: dict[str, int] = field(default_factory=dict)  # logical id -> webhooks moved
    notes: list[str] = field(default_factory=list)


def intent_path(folder: Path, stack_name: str) -> Path:
    return folder / f"{stack_name}.json"


def record_intent(folder: Path, stack_name: str, old_urls: dict[str, str]) -> None:
    """Before the change set runs: which queues (logical id -> URL) are being replaced."""
    if not old_urls:
        return
    path = intent_path(folder, stack_name)
    pending = {**read_intent(folder, stack_name), **old_urls}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as stream:
            json.dump(pending, stream, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as exc:
        raise NamiError(f"cannot write the queue move file {path}: {exc}") from exc


def read_intent(folder: Path, stack_name: str) -> dict[str, str]:
    path = intent_path(folder, stack_name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise NamiError(f"cannot read the queue move file {path}: {exc}") from exc
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def replaced_urls(aws: Aws, stack_name: str, logical_ids: list[str]) -> dict[str, str]:
    """The URLs of the queues about to be replaced (the plan's queue-replaced warnings name
    them: the pipeline's or a route's), read right before the change set runs."""
    resources = cfn.stack_resources(aws, stack_name) or {}
    return {i: resources[i] for i in logical_ids if resources.get(i)}


def carry_over(
    aws: Aws, pipeline: PipelineConfig, folder: Path, options: RedriveOptions | None = None
) -> CarryOver:
    """Move what every recorded old queue of this pipeline holds into the stack's current
    queue of the same logical id; forget an intent once its old queue is empty."""
    stack_name = pipeline.stack_name
    pending = read_intent(folder, stack_name)
    result = CarryOver()
    if not pending:
        return result
    resources = cfn.stack_resources(aws, stack_name) or {}
    left: dict[str, str] = {}
    for logical_id, old_url in sorted(pending.items()):
        new_url = resources.get(logical_id)
        if not new_url or new_url == old_url:
            continue  # not replaced after all (the update failed and rolled back)
        moved, done = _move(aws, pipeline, old_url, new_url, folder, options)
        result.moved[logical_id] = moved
        label = "dead-letter queue" if logical_id.endswith(names.DEAD_LETTER_QUEUE) else "queue"
        result.notes.append(
            f"moved {moved} webhook{'s' if moved != 1 else ''} from the replaced {label} "
            f"{queue_name_of(old_url)} into {queue_name_of(new_url)}"
            + ("" if done else "; some are still in flight: the next deploy moves them")
        )
        if not done:
            left[logical_id] = old_url
    _rewrite(folder, stack_name, left)
    return result


def _move(
    aws: Aws,
    pipeline: PipelineConfig,
    old_url: str,
    new_url: str,
    folder: Path,
    options: RedriveOptions | None,
) -> tuple[int, bool]:
    """(moved, whether the old queue is now empty). The redrive copy loop, with the old queue
    as its source and the new one as its destination; SQS's move task is not used (it moves
    only out of a dead-letter queue)."""
    source = DeployedPipeline(pipeline, pipeline.stack_name, new_url, old_url, endpoint=None)
    settings = options or RedriveOptions()
    settings.use_move_task = False
    settings.journal_folder = folder / "journal"
    moved = 0
    depth = queue_depth(aws, old_url)
    if depth is not None and depth.visible:
        with contextlib.suppress(EmptyQueue):  # taken by someone else meanwhile
            moved = redrive(aws, source, settings).moved
        depth = queue_depth(aws, old_url)
    return moved, depth is None or depth.total == 0


def _rewrite(folder: Path, stack_name: str, left: dict[str, str]) -> None:
    path = intent_path(folder, stack_name)
    if not left:
        path.unlink(missing_ok=True)
        return
    path.unlink(missing_ok=True)
    record_intent(folder, stack_name, left)
